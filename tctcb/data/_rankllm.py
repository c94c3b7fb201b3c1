"""rank_llm first-stage retrieval files (``retrieve_results/<system>/retrieve_results_dl19.json``): a JSON
list with one ``{"query": text, "hits": [{"content", "qid", "docid", "rank", "score"}, ...]}`` per query.

The DL19 pool is the union of the hit passages over the given files, in first-appearance order
(files in the order given, queries and hits in file order). MS MARCO passages have no title.
"""
from __future__ import annotations

import json
from typing import Iterable, Iterator

from ._archive import Source, read_text, source_name
from ._paths import DataError
from ._records import Document, Query


def read_rankllm(src: Source) -> list[dict]:
    """The parsed file, checked for the fields used here."""
    name = source_name(src)
    try:
        data = json.loads(read_text(src))
    except json.JSONDecodeError as e:
        raise DataError(f"{name}, line {e.lineno}: malformed JSON ({e.msg})") from None
    if not isinstance(data, list):
        raise DataError(f"{name}: expected a JSON list of {{'query','hits'}} objects")
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "query" not in entry or not isinstance(entry.get("hits"), list):
            raise DataError(f"{name}: entry {i} is not a {{'query','hits'}} object")
        for h in entry["hits"]:
            if not isinstance(h, dict) or not {"content", "qid", "docid"} <= set(h):
                raise DataError(f"{name}: entry {i} has a hit without 'content', 'qid' or 'docid'")
    return data


def read_rankllm_queries(src: Source) -> Iterator[Query]:
    """The queries of one file (qid from its hits), file order."""
    for entry in read_rankllm(src):
        if entry["hits"]:
            yield Query(str(entry["hits"][0]["qid"]), str(entry["query"]))


def read_rankllm_pool(sources: Iterable[Source]) -> Iterator[Document]:
    """Distinct passages of all files (first appearance wins; the files agree on every passage's text)."""
    seen: set[str] = set()
    for src in sources:
        for entry in read_rankllm(src):
            for h in entry["hits"]:
                pid = str(h["docid"])
                if pid not in seen:
                    seen.add(pid)
                    yield Document(pid, "", str(h["content"]))
