"""The CLI's commands beyond the core ones, one module per area; see ``layerlab.cli.COMMAND_MODULES``."""
