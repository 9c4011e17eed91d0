"""Report sections of each task, registered in ``layerlab.analyze.report.SECTIONS`` under its name.

A task written elsewhere adds its sections with one file here (imported below), or from its own
module, with ``@SECTIONS.register("<task name>")``.
"""

from layerlab.analyze.sections import classification, generative, regression, speech  # noqa: F401 (they register themselves)
