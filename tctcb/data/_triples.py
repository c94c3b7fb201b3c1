"""Training triples as users already have them, read through an offset index (not held in memory).

Formats, sniffed from the first non-blank line:

- ``tsv``: MS MARCO ``qidpidtriples.train.full`` -- ``qid<TAB>pos_pid<TAB>neg_pid`` (more negative
  columns allowed);
- ``colbert``: ColBERT / PyLate JSON lines ``[qid, pos, neg, ...]``, where an entry may also be
  ``[pid, score]`` (distillation files);
- ``tevatron``: Tevatron JSON lines ``{"query_id", "query", "positive_passages": [{"docid", ...}],
  "negative_passages": [...]}`` (the query text travels with the row).

One pass validates every line and checks every passage id against the corpus (``DataError`` with file and
line of the first unknown one); the offset index (``rows.npy``) and the sorted distinct query ids
(``qids.npy``) go into the cache, keyed by the file's path, size and mtime and by the corpus.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._docstore import DocStore, RowWriter, build_once
from ._paths import DataError, cache_dir

__all__ = ["TripleStore", "TripleRow", "sniff_triples_format", "TRIPLE_FORMATS"]

TRIPLES_VERSION = 1
TRIPLE_FORMATS = ("tsv", "colbert", "tevatron")
_CHECK_EVERY = 100_000  # rows whose passage ids are checked against the corpus at once


@dataclass(frozen=True)
class TripleRow:
    qid: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    query: str | None = None  # Tevatron rows carry the query text


def sniff_triples_format(path: str | os.PathLike) -> str:
    path = Path(path)
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            if not s:
                continue
            if s.startswith(b"["):
                return "colbert"
            if s.startswith(b"{"):
                return "tevatron"
            if s.count(b"\t") >= 2:
                return "tsv"
            raise DataError(f"{path}, line {n}: not a triples line: expected 'qid<TAB>pos_pid<TAB>neg_pid' (MS MARCO), "
                            f"a JSON list [qid, pos, neg, ...] (ColBERT/PyLate) or a Tevatron JSON object; got {s[:60]!r}")
    raise DataError(f"{path}: no triples (the file is empty)")


def _pid(x, where) -> str:
    if isinstance(x, list) and x:  # [pid, score]
        x = x[0]
    if isinstance(x, (str, int)) and not isinstance(x, bool) and str(x):
        return str(x)
    raise DataError(f"{where}: a passage id must be a string or an integer, got {x!r}")


def parse_triple(line: bytes, fmt: str, where: str) -> TripleRow:
    try:
        s = line.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise DataError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if fmt == "tsv":
        parts = [p.strip() for p in s.split("\t")]
        if len(parts) < 3 or not all(parts):
            raise DataError(f"{where}: expected 'qid<TAB>pos_pid<TAB>neg_pid', got {len(parts)} field(s)")
        return TripleRow(parts[0], (parts[1],), tuple(parts[2:]))
    try:
        obj = json.loads(s)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: malformed JSON ({e.msg} at column {e.colno})") from None
    if fmt == "colbert":
        if not isinstance(obj, list) or len(obj) < 2:
            raise DataError(f"{where}: expected a JSON list [qid, pos, neg, ...]")
        return TripleRow(_pid(obj[0], where), (_pid(obj[1], where),), tuple(_pid(x, where) for x in obj[2:]))
    if not isinstance(obj, dict) or "query_id" not in obj or "positive_passages" not in obj:
        raise DataError(f"{where}: a Tevatron line needs 'query_id' and 'positive_passages' "
                        f"(keys: {sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__})")

    def ids(key):
        value = obj.get(key) or []
        if not isinstance(value, list) or not all(isinstance(p, dict) and "docid" in p for p in value):
            raise DataError(f"{where}: {key!r} must be a list of objects with a 'docid'")
        return tuple(_pid(p["docid"], where) for p in value)

    pos = ids("positive_passages")
    if not pos:
        raise DataError(f"{where}: no positive passage")
    query = obj.get("query")
    return TripleRow(str(obj["query_id"]), pos, ids("negative_passages"), query if isinstance(query, str) else None)


def _line_of(path: Path, offset: int) -> int:
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


class TripleStore:
    """``len(store)`` rows; ``store.row(i) -> TripleRow``; ``store.qids`` (sorted distinct query ids, bytes)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        try:
            self.meta = json.loads((self.directory / "meta.json").read_text())
            self._rows = np.load(self.directory / "rows.npy", mmap_mode="r")
            self.qids = np.load(self.directory / "qids.npy", mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataError(f"triples index {self.directory} is unreadable ({e}): delete the folder to rebuild it") from None
        self.path, self.format = Path(self.meta["source"]["path"]), self.meta["format"]
        self._fd, self._pid = None, None

    def __len__(self) -> int:
        return int(self.meta["count"])

    def row(self, i: int) -> TripleRow:
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        start, end = (int(x) for x in self._rows[i])
        return parse_triple(os.pread(self._fd, end - start, start), self.format, f"{self.path}, byte {start}")

    def __getstate__(self):
        return {"directory": self.directory}

    def __setstate__(self, state):
        self.__init__(state["directory"])

    @classmethod
    def open(cls, path: str | os.PathLike, corpus: DocStore, cache=None, log=None) -> "TripleStore":
        path = Path(path).resolve()
        if not path.is_file():
            raise DataError(f"--triples {path}: file not found")
        st = path.stat()
        source = {"path": str(path), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        corpus_key = corpus.meta["source"]
        key = hashlib.sha1(str(path).encode()).hexdigest()[:16]
        target = cache_dir(cache) / f"triples-v{TRIPLES_VERSION}" / f"{path.name}-{key}"

        def current(target: Path) -> bool:
            try:
                meta = json.loads((target / "meta.json").read_text())
            except (OSError, ValueError):
                return False
            return meta.get("source") == source and meta.get("corpus") == corpus_key

        def build(tmp: Path) -> None:
            fmt = sniff_triples_format(path)
            if log:
                log(f"indexing the triples in {path} ({fmt}) and checking their passage ids against the corpus")
            count = _index(path, fmt, corpus, tmp)
            (tmp / "meta.json").write_text(json.dumps({"version": TRIPLES_VERSION, "format": fmt, "count": count,
                                                       "source": source, "corpus": corpus_key}, indent=1) + "\n")

        return cls(build_once(target, current, build, log, "triples index"))


def _index(path: Path, fmt: str, corpus: DocStore, out: Path) -> int:
    writer, qids = RowWriter(out / "rows.npy"), set()
    pending: list[tuple[int, str]] = []  # (byte offset, pid) to check against the corpus

    def check():
        found = corpus.rows([p for _, p in pending])
        bad = np.nonzero(found < 0)[0]
        if len(bad):
            off, pid = pending[int(bad[0])]
            raise DataError(f"{path}, line {_line_of(path, off)}: passage id {pid!r} is not in the corpus "
                            f"{corpus.source} ({len(bad)} unknown ids in this block of rows)")
        pending.clear()

    offset = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                row = parse_triple(line, fmt, f"{path}, line {n}")
                writer.add(offset, offset + len(line))
                qids.add(row.qid)
                pending.extend((offset, p) for p in row.positives + row.negatives)
                if len(pending) >= _CHECK_EVERY:
                    check()
            offset += len(line)
    if pending:
        check()
    writer.finish()
    if not writer.count:
        raise DataError(f"{path}: no triples (the file is empty)")
    np.save(out / "qids.npy", np.array(sorted(q.encode("utf-8") for q in qids), dtype=bytes))
    return writer.count
