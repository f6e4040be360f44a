"""Model runtime for the GPU stages: weight resolution, precision, micro-batching, model wrappers.

Nothing here imports torch, open_clip, transformers or onnxruntime at import time; each wrapper
imports its library when a model is loaded, and a missing library raises ``MissingDependency``
with the pip command (``pip install 'spark-mm[models]'``).
"""
