"""Query/document encoders (Pyserini-compatible TCT-ColBERT, sentence-transformers format) and
sharded, resumable corpus encoding (``python -m tctcb.encode``)."""
from ._encoders import (
    POOLINGS,
    EncodeStats,
    SentenceTransformerEncoder,
    TctColBertDocumentEncoder,
    TctColBertQueryEncoder,
    load_document_encoder,
    load_query_encoder,
    query_encoder_pooling,
    st_embed,
    st_pool,
)
from ._corpus import EncodeError, encode_corpus, read_embeddings
from ._splade import QUANTISATION, SPLADE_ENV, SPLADE_FILES, SPLADE_WHEEL, SpladeEncoder, quantise, splade_from_wheel, splade_model

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
    "encode_corpus",
    "read_embeddings",
    "EncodeError",
    "SpladeEncoder", "splade_model", "splade_from_wheel", "quantise", "QUANTISATION", "SPLADE_ENV", "SPLADE_FILES",
    "SPLADE_WHEEL",
]
