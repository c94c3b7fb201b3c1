"""BEIR format: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` (with header
``query-id corpus-id score``), as plain files or as members of a zip (``(zip path, member)`` sources)."""
from __future__ import annotations

from typing import Iterator

from ._archive import Source, iter_lines, source_name
from ._jsonl import iter_json_objects, read_jsonl_corpus
from ._paths import DataError
from ._records import Document, Query


def read_beir_corpus(src: Source) -> Iterator[Document]:
    """Documents of a BEIR ``corpus.jsonl`` in file order."""
    return read_jsonl_corpus(src)


def read_beir_queries(src: Source) -> Iterator[Query]:
    """Queries of a BEIR ``queries.jsonl`` (``{"_id","text"}``) in file order."""
    for n, obj in iter_json_objects(src):
        if "_id" not in obj or "text" not in obj:
            raise DataError(f"{source_name(src)}, line {n}: a BEIR query needs '_id' and 'text' (keys: {sorted(obj)})")
        yield Query(str(obj["_id"]), str(obj["text"]))


def read_beir_qrels(src: Source) -> dict[str, dict[str, int]]:
    """``qid -> {docid: grade}`` from a BEIR qrels TSV (``query-id<TAB>corpus-id<TAB>score``, optional header)."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in iter_lines(src):
        if not line.strip():
            continue
        parts = line.split("\t")
        if n == 1 and parts[0].strip() == "query-id":
            continue
        if len(parts) != 3:
            raise DataError(f"{source_name(src)}, line {n}: expected 3 tab-separated fields "
                            f"(query-id, corpus-id, score), got {len(parts)}")
        qid, docid, score = (p.strip() for p in parts)
        try:
            grade = int(score)
        except ValueError:
            raise DataError(f"{source_name(src)}, line {n}: score {score!r} is not an integer") from None
        qrels.setdefault(qid, {})[docid] = grade
    return qrels
