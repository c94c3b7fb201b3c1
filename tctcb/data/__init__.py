"""Collections, topics and qrels: file formats, the registry of named sets, the data and cache directories.

Importing this package reads nothing and starts nothing (no JVM, no torch). The original files live in
the data directory (``$TCTCB_DATA`` or ``data_dir=`` / ``--data-dir``); derived files (JSONL
conversions, unpacked HTML) go to the cache (``$TCTCB_CACHE``, default ``~/.cache/tctcb``).

    >>> from tctcb.data import get_collection, get_topics, get_qrels
    >>> col = get_collection("nfcorpus")                      # doctest: +SKIP
    >>> topics, qrels = get_topics("nfcorpus-test"), get_qrels("nfcorpus-test")   # doctest: +SKIP

User datasets (``python -m tctcb.data add NAME ...``, :func:`add_dataset`) join the built-in names: ``NAME``
is a collection, ``NAME-SPLIT`` a topic set. :class:`DocStore` reads passages from a corpus file through a
memory-mapped offset index (``Collection.docstore()``); :class:`TripleStore` reads training triples the same way.

TREC DL convention for ``dl19-pool``/``dl19-passage``: nDCG@10 on the graded qrels, R@k and RR@10
with relevance >= 2 (done by the evaluation code; the qrels here keep the grades).
"""
from ._archive import iter_lines
from ._beir import read_beir_corpus, read_beir_qrels, read_beir_queries
from ._cacm import read_cacm_docs
from ._docstore import DocStore, sniff_corpus_format
from ._jsonl import read_jsonl_corpus, write_jsonl_collection
from ._download import download
from ._paths import DataError, cache_dir, data_dir, default_data_dir
from ._rankllm import read_rankllm_pool, read_rankllm_queries
from ._records import Document, Query
from ._registry import (
    CacmCollection,
    Collection,
    UserCollection,
    get_collection,
    get_qrels,
    get_topics,
    get_topics_and_qrels,
    list_collections,
    list_topic_sets,
    topics_collection,
    verify_files,
)
from ._sets import load_qrels, load_topics, looks_like_a_file
from ._scifact import parse_sentence_list, read_scifact_claims, read_scifact_corpus
from ._smart import cranfield_gain, read_smart_docs, read_smart_qrels, read_smart_queries
from ._trec import read_qrels, read_topics, read_trec_qrels
from ._triples import TripleRow, TripleStore, sniff_triples_format
from ._userdata import UserDataset, add_dataset, load_registry, remove_dataset

__all__ = [
    "CacmCollection", "Collection", "DataError", "DocStore", "Document", "Query", "UserCollection", "UserDataset",
    "add_dataset", "iter_lines", "load_qrels", "load_topics", "looks_like_a_file", "load_registry", "remove_dataset", "sniff_corpus_format", "TripleRow", "TripleStore",
    "sniff_triples_format", "default_data_dir", "download",
    "cache_dir", "cranfield_gain", "data_dir",
    "get_collection", "get_qrels", "get_topics", "get_topics_and_qrels",
    "list_collections", "list_topic_sets", "topics_collection", "verify_files",
    "parse_sentence_list", "read_beir_corpus", "read_beir_qrels", "read_beir_queries", "read_cacm_docs",
    "read_jsonl_corpus", "read_qrels", "read_rankllm_pool", "read_rankllm_queries",
    "read_scifact_claims", "read_scifact_corpus", "read_smart_docs", "read_smart_qrels", "read_smart_queries",
    "read_topics", "read_trec_qrels", "write_jsonl_collection",
]
