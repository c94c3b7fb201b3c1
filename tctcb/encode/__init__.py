"""Query/document encoders (Pyserini-compatible TCT-ColBERT, and format ``mean`` = sentence-transformers; in PyTorch or through
an ONNX export) and sharded, resumable corpus encoding (``python -m tctcb.encode``)."""
from ._encoders import (
    POOLINGS,
    POOLING_CHOICES,
    POOLS,
    FormatChoice,
    EncodeStats,
    SentenceTransformerEncoder,
    TctColBertDocumentEncoder,
    TctColBertQueryEncoder,
    load_document_encoder,
    load_query_encoder,
    choose_format,
    query_encoder_pooling,
    st_embed,
    st_pool,
)
from tctcb.models import st_max_length
from ._onnx import GRAPHS, INPUT_NAMES, ONNX_CONFIG, ONNX_FORMAT, OUTPUT_NAME, OnnxError, is_onnx_export, read_onnx_config
from ._corpus import EncodeError, encode_corpus, read_embeddings
from ._splade import QUANTISATION, SPLADE_ENV, SPLADE_FILES, SPLADE_WHEEL, SpladeEncoder, quantise, splade_from_wheel, splade_model
from ._unicoil import UniCoilQueryEncoder

__all__ = [
    "TctColBertQueryEncoder",
    "TctColBertDocumentEncoder",
    "SentenceTransformerEncoder",
    "EncodeStats",
    "POOLINGS",
    "POOLING_CHOICES",
    "FormatChoice",
    "choose_format",
    "load_document_encoder",
    "load_query_encoder",
    "query_encoder_pooling",
    "st_pool",
    "st_embed",
    "st_max_length",
    "POOLS",
    "GRAPHS", "INPUT_NAMES", "ONNX_CONFIG", "ONNX_FORMAT", "OUTPUT_NAME", "OnnxError", "is_onnx_export", "read_onnx_config",
    "encode_corpus",
    "read_embeddings",
    "EncodeError",
    "SpladeEncoder", "splade_model", "splade_from_wheel", "quantise", "QUANTISATION", "SPLADE_ENV", "SPLADE_FILES",
    "SPLADE_WHEEL", "UniCoilQueryEncoder",
]
