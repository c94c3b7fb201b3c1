"""Exports of an encoder for other runtimes (``python -m tctcb.export``): ONNX graphs (query and document, fp32 or
int8) that ``tctcb.encode`` and ``tctcb.search`` run as an encoding backend, and sentence-transformers folders."""
from ._common import ExportError
from ._onnx import export_onnx
from ._st import export_sentence_transformers

__all__ = ["ExportError", "export_onnx", "export_sentence_transformers"]
