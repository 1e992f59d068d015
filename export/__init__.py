"""The export stage: ONNX export, quantisation, parity gate, artifact bundle (and the lean runtime).

    schemadistill export runs/ecommerce [--out DIR] [--skip-parity]

``export.build.export_run`` is the stage entry; ``export.artifact`` (no torch, no transformers)
loads and checks an artifact for the runtime. Submodules are imported on use: the runtime must
stay free of torch, so nothing heavy is imported here.
"""
