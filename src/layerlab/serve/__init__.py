"""Shipping a trained run: export it (ONNX, TorchScript, torch.export) with its input standardisation built
in, predict with it from Python (``Predictor``), and serve it over HTTP (``layerlab serve``).

    graph.py      the exported network: raw inputs in, the task's outputs out; what each task allows
    rawdata.py    the run's test examples as its model took them and as the exported graph takes them
    formats.py    each format written, read back and run
    export.py     ``export``: write a format, check it against PyTorch, write the JSON spec beside it
    predictor.py  ``Predictor``: load once, call on arrays, files, table rows or sentences
    exact.py      PyTorch at fixed batch shapes, so that an answer has the same bits alone or batched
    batching.py   gathers concurrent requests into one forward pass
    requests.py   an HTTP request's JSON or files to inputs, with errors naming the field
    server.py     the FastAPI application (metrics.py its Prometheus counters, page.py its ``GET /`` page)
    sequences.py  /generate and /translate (language models, translation); transcribing.py /transcribe
    launch.py     which application serves a run or an exported file
"""
