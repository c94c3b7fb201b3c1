"""Topics and qrels by name or by file, with one rule everywhere (search, eval, BM25 runs, tuning, fusion):
a value that exists on disk is a file; a value that looks like a path (a folder separator, or a topics/qrels
file suffix) but does not exist is a missing file, named; anything else is a registered topic-set name."""
from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from ._paths import DataError

__all__ = ["load_topics", "load_qrels", "looks_like_a_file"]

_FILE_SUFFIXES = (".tsv", ".txt", ".xml", ".jsonl", ".json", ".qrels", ".gz", ".trec")
_SGML_ID = re.compile(r"<(?:num|DOCNO)>\s*(?:Number:)?\s*([^<\s]+)", re.I)


def looks_like_a_file(value: str | os.PathLike) -> bool:
    """True when ``value`` exists as a file, or is written like a path (so a missing file is not a name)."""
    text = str(value)
    return os.path.isfile(text) or any(c in text for c in "/\\") or text.lower().endswith(_FILE_SUFFIXES)


def _ids_in_file(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("<"):
        return _SGML_ID.findall(text)
    if first.lstrip().startswith("{"):
        import json

        ids = []
        for ln in text.splitlines():
            try:
                row = json.loads(ln) if ln.strip() else None
            except ValueError:
                row = None
            if isinstance(row, dict):
                ids.append(str(row.get("_id", row.get("id", row.get("qid", "")))))
        return ids
    return [ln.partition("\t")[0].strip() for ln in text.splitlines() if ln.strip()]


def load_topics(value: str | os.PathLike) -> dict[str, str]:
    """``{qid: text}`` from a topics file (TSV, JSONL, SGML) or a registered topic set; a repeated topic id in a
    file, a missing file and an empty set are :class:`DataError`."""
    from ._registry import get_topics
    from ._trec import read_topics

    path = Path(value)
    if path.is_file():
        repeated = [q for q, n in Counter(_ids_in_file(path)).items() if n > 1]
        if repeated:
            raise DataError(f"topics file {path}: topic id {repeated[0]!r} is repeated "
                            f"({len(repeated)} repeated ids); topic ids must be unique")
        topics = read_topics(path)
    elif looks_like_a_file(value):
        raise DataError(f"topics file {value} not found")
    else:
        topics = get_topics(str(value))
    if not topics:
        raise DataError(f"no topics in {value}")
    return {str(q): t for q, t in topics.items()}


def load_qrels(value: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Qrels from a file (TREC / MS MARCO 4 columns, or BEIR ``query-id corpus-id score`` TSV) or a registered
    topic set name, built-in or user dataset; a missing file is :class:`DataError`."""
    from ._registry import get_qrels
    from ._trec import read_qrels

    if os.path.isfile(str(value)):
        return read_qrels(str(value))
    if looks_like_a_file(value):
        raise DataError(f"qrels file {value} not found")
    return get_qrels(str(value))
