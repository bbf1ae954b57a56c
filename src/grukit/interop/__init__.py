"""Weights to and from other frameworks: torch.nn.GRU (``GRU.from_torch``/``to_torch``) and
ONNX (``grukit.interop.onnx``, needs the ``onnx`` extra)."""
