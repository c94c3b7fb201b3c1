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
)
from ._corpus import EncodeError, encode_corpus, read_embeddings

__all__ = [
    "TctColBertQueryEncoder",
    "TctColBertDocumentEncoder",
    "SentenceTransformerEncoder",
    "EncodeStats",
    "POOLINGS",
    "load_document_encoder",
    "load_query_encoder",
    "encode_corpus",
    "read_embeddings",
    "EncodeError",
]
