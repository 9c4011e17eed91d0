"""The CLI's commands, one module per area; see ``layerlab.cli.COMMAND_MODULES``."""
