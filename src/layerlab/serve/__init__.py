"""Shipping a trained run: export it (ONNX, TorchScript, torch.export) with its input standardisation
built in, predict with it from Python (``Predictor``), and serve it over HTTP (``layerlab serve``).

    graph.py      the exported network: raw inputs in, the task's outputs out; what each task allows
    rawdata.py    the run's test examples as the exported network takes them
    export.py     write a format, read it back, check it against PyTorch, write the JSON spec beside it
    predictor.py  load once, call on arrays, files, table rows or sentences
    batching.py   gathers concurrent requests into one forward pass
    requests.py   turns an HTTP request's JSON or files into inputs, with errors naming the field
    server.py     the FastAPI application; metrics.py its Prometheus counters
"""
