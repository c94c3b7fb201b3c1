"""tctcb: TCT-ColBERT (distillation with tightly-coupled teachers) on top of Pyserini.

Subpackages: ``data``, ``models``, ``encode``, ``index``, ``search``, ``train``, ``eval``, ``reproduce``.
Importing ``tctcb`` has no side effects (no JVM, no model loading).
"""
__version__ = "0.1.0"
