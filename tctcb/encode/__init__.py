"""Query/document encoders (Pyserini-compatible TCT-ColBERT, sentence-transformers format; in PyTorch or through
an ONNX export) and sharded, resumable corpus encoding (``python -m tctcb.encode``)."""
from ._encoders import (
    POOLINGS,
    POOLS,
    EncodeStats,
    SentenceTransformerEncoder,
    TctColBertDocumentEncoder,
    TctColBertQueryEncoder,
    load_document_encoder,
    load_query_encoder,
    query_encoder_pooling,
    st_embed,
    st_max_length,
    st_pool,
)
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
