"""Indexes: Lucene (BM25, through Pyserini/Anserini) and FAISS (dense).

Importing this package starts nothing; the JVM starts on the first Lucene call.
"""
from tctcb.index._lucene import IndexingError, bm25_run, build_lucene_index, count_lucene_docs, lucene_index_dir

__all__ = ["IndexingError", "bm25_run", "build_lucene_index", "count_lucene_docs", "lucene_index_dir"]
