"""Looking at results: plots (``layerlab.analyze.plots``), and later embeddings, explanations,
fairness audits and the HTML report. Submodules are imported on demand, so that ``import layerlab``
does not pull in matplotlib."""
