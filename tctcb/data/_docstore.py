"""A docstore over a corpus file: ``docid -> contents`` without holding the corpus in memory.

One pass over the file (TSV ``id<TAB>text``, Pyserini JSONL ``{"id","contents"}`` or BEIR JSONL
``{"_id","title","text"}``; gzip-compressed files are decompressed once into the cache) writes an offset
index into the cache:

    rows.npy    int64 [N, 2]  byte range (start, end) of each document's line, in file order
    ids.npy     bytes [N]     the docids, sorted (UTF-8 bytes sort as Python sorts str)
    order.npy   int64 [N]     row of each sorted id
    meta.json   the source file's path, size and mtime, its format and the count

All three arrays are memory-mapped, so a store over 8.8M passages costs a few pages of memory, not gigabytes
of Python strings; a text is one ``pread`` and one line parse, a docid one binary search. Every line is
validated while the index is built (malformed JSON, a line without a tab, bytes that are not UTF-8, an
empty id, a repeated id: ``DataError`` with file and line), so a wrong format guess fails there, not later.
The index is keyed by the file's path and rebuilt when its size or mtime changes.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from tctcb._atomic import tmp_dir
from ._paths import DataError, cache_dir
from ._records import Document

__all__ = ["DocStore", "sniff_corpus_format", "CORPUS_FORMATS"]

#: bump when the index layout changes, so old indexes are rebuilt
STORE_VERSION = 1
CORPUS_FORMATS = ("tsv", "jsonl")
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # ids gathered per numpy block while indexing


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _first_line(path: Path) -> tuple[int, bytes]:
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                return n, line
    raise DataError(f"{path}: no documents (the file is empty)")


def sniff_corpus_format(path: str | os.PathLike) -> str:
    """``tsv`` or ``jsonl`` from the first non-blank line; anything else is a DataError naming file and line."""
    path = Path(path)
    n, line = _first_line(path)
    text = line.lstrip()
    if text.startswith(b"{"):
        return "jsonl"
    if b"\t" in line:
        return "tsv"
    raise DataError(f"{path}, line {n}: not a corpus line: expected 'docid<TAB>text' (MS MARCO collection.tsv) or a "
                    f"JSON object (Pyserini {{'id','contents'}} / BEIR {{'_id','title','text'}}); got {line[:60]!r}")


def parse_json_document(obj, where: str) -> Document:
    """A Document from a Pyserini (``id``, ``contents``) or BEIR (``_id``, ``title``, ``text``) JSON object."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "id" in obj and "contents" in obj:
        doc = Document(str(obj["id"]), "", obj["contents"])
    elif "_id" in obj and "text" in obj:
        doc = Document(str(obj["_id"]), obj.get("title") or "", obj["text"])
    else:
        raise DataError(f"{where}: neither a Pyserini line {{'id','contents'}} nor a BEIR line {{'_id','title','text'}} "
                        f"(keys: {sorted(obj)[:8]})")
    if not isinstance(doc.text, str) or not isinstance(doc.title, str):
        raise DataError(f"{where}: the text of {doc.docid!r} is not a string")
    return doc


def _parse(line: bytes, fmt: str, where) -> Document:
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{where()}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    s = s.rstrip("\r\n")
    if fmt == "tsv":
        docid, sep, text = s.partition("\t")
        if not sep:
            raise DataError(f"{where()}: expected 'docid<TAB>text', found no tab")
        doc = Document(docid.strip(), "", text)
    else:
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise DataError(f"{where()}: malformed JSON ({e.msg} at column {e.colno})") from None
        doc = parse_json_document(obj, where())
    if not doc.docid:
        raise DataError(f"{where()}: empty document id")
    return doc


def _fingerprint(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _store_dir(path: Path, cache) -> Path:
    key = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    return cache_dir(cache) / f"docstore-v{STORE_VERSION}" / f"{path.name}-{key}"


def build_once(target: Path, current, build, log=None, what: str = "index") -> Path:
    """``target`` if ``current(target)``, else ``build(tmp)`` into a fresh temporary sibling folder, then put in
    place atomically. An exclusive lock (``.NAME.lock`` beside it) makes concurrent processes -- torchrun's
    ranks -- build it once: the others wait, then find it current."""
    import fcntl

    if current(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if current(target):  # another process built it while this one waited
            return target
        if target.exists() and log:
            log(f"{what} {target} is out of date: rebuilding it")
        tmp = tmp_dir(target)
        try:
            build(tmp)
            from tctcb._atomic import swap_dir

            swap_dir(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _line_of(path: Path, offset: int) -> int:
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


class DocStore(Mapping):
    """``store[docid] -> contents`` (Pyserini's "flat" text: title + " " + text) over a corpus file.

    ``DocStore.open(path)`` builds the index on first use (or finds it in the cache); ``len``, ``in``,
    iteration (docids in file order), ``docs()`` (Documents in file order), ``document(docid)``,
    ``rows(docids)`` (bulk lookup, -1 where absent) and ``sorted_ids`` (a sequence of the docids in sorted order).
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        meta_path = self.directory / "meta.json"
        try:
            self.meta = json.loads(meta_path.read_text())
            self._rows = np.load(self.directory / "rows.npy", mmap_mode="r")
            self._ids = np.load(self.directory / "ids.npy", mmap_mode="r")
            self._order = np.load(self.directory / "order.npy", mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataError(f"docstore {self.directory} is unreadable ({e}): delete the folder to rebuild it") from None
        self.format = self.meta["format"]
        self.path = Path(self.meta["data_file"])
        self.source = Path(self.meta["source"]["path"])
        if not (len(self._rows) == len(self._ids) == len(self._order) == self.meta["count"]):
            raise DataError(f"docstore {self.directory}: index files disagree on the count: delete the folder to rebuild it")
        self._fd: int | None = None
        self._pid = None

    # -- building ---------------------------------------------------------------------------------------
    @classmethod
    def open(cls, corpus: str | os.PathLike, fmt: str | None = None, cache=None, log=None) -> "DocStore":
        """The store of ``corpus``, built (atomically) unless an up-to-date one is in the cache."""
        path = Path(corpus).resolve()
        if not path.is_file():
            raise DataError(f"corpus file {path} not found (moved or deleted since it was registered?)")

        def current(target: Path) -> bool:
            try:
                meta = json.loads((target / "meta.json").read_text())
            except (OSError, ValueError):
                return False
            return meta.get("source") == _fingerprint(path) and (fmt is None or meta.get("format") == fmt)

        target = _store_dir(path, cache)
        return cls(build_once(target, current, lambda tmp: cls.build(path, tmp, target, fmt, log), log, "docstore"))

    @staticmethod
    def build(path: Path, tmp: Path, target: Path, fmt: str | None = None, log=None) -> None:
        """Index ``path`` into the folder ``tmp``, which will be moved to ``target``."""
        fmt = fmt or sniff_corpus_format(path)
        if fmt not in CORPUS_FORMATS:
            raise DataError(f"unknown corpus format {fmt!r}; known: {', '.join(CORPUS_FORMATS)}")
        data_file = path
        if _is_gzip(path):
            if log:
                log(f"decompressing {path} into the cache (random access needs a plain file)")
            try:
                with gzip.open(path, "rb") as src, open(tmp / "corpus", "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
            except (OSError, EOFError, zlib.error) as e:
                raise DataError(f"{path}: a truncated or corrupt gzip file ({e})") from None
            data_file = target / "corpus"  # where it will be once the folder is in place
        count = _index(tmp / "corpus" if data_file != path else path, fmt, tmp, path)
        meta = {"version": STORE_VERSION, "format": fmt, "count": count, "source": _fingerprint(path),
                "data_file": str(data_file)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")

    # -- reading ----------------------------------------------------------------------------------------
    def _read(self, row: int) -> bytes:
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        start, end = (int(x) for x in self._rows[row])
        return os.pread(self._fd, end - start, start)

    def document_at(self, row: int) -> Document:
        return _parse(self._read(row), self.format, lambda: f"{self.source}, byte {int(self._rows[row][0])}")

    def rows(self, docids: Sequence[str]) -> np.ndarray:
        """Row of each docid (file order), -1 where the store has no such id."""
        out = np.full(len(docids), -1, dtype=np.int64)
        if not len(docids) or not len(self._ids):
            return out
        keys = np.array([d.encode("utf-8") for d in docids], dtype=object)
        width = self._ids.dtype.itemsize
        fits = np.array([len(k) <= width and len(k) > 0 for k in keys], dtype=bool)
        if not fits.any():
            return out
        probe = keys[fits].astype(self._ids.dtype)
        pos = np.searchsorted(self._ids, probe)
        pos_c = np.minimum(pos, len(self._ids) - 1)
        hit = (pos < len(self._ids)) & (self._ids[pos_c] == probe)
        found = np.full(len(probe), -1, dtype=np.int64)
        found[hit] = self._order[pos_c[hit]]
        out[np.nonzero(fits)[0]] = found
        return out

    def row(self, docid: str) -> int:
        return int(self.rows([docid])[0])

    def document(self, docid: str) -> Document:
        r = self.row(docid)
        if r < 0:
            raise KeyError(docid)
        return self.document_at(r)

    def __getitem__(self, docid: str) -> str:
        return self.document(docid).contents

    def __contains__(self, docid) -> bool:
        return isinstance(docid, str) and self.row(docid) >= 0

    def __len__(self) -> int:
        return int(self.meta["count"])

    def __iter__(self) -> Iterator[str]:
        return (d.docid for d in self.docs())

    def docs(self) -> Iterator[Document]:
        """Documents in file order (a sequential read, not one pread each)."""
        with open(self.path, "rb") as f:
            for start, end in self._rows:
                f.seek(int(start))
                line = f.read(int(end) - int(start))
                yield _parse(line, self.format, lambda: f"{self.source}, byte {int(start)}")

    @property
    def sorted_ids(self) -> "SortedIds":
        return SortedIds(self._ids)

    def __repr__(self) -> str:
        return f"DocStore({str(self.source)!r}, {len(self)} documents)"

    def __getstate__(self):  # picklable (DataLoader workers, torchrun spawn): reopen the maps there
        return {"directory": self.directory}

    def __setstate__(self, state):
        self.__init__(state["directory"])


class SortedIds(Sequence):
    """The store's docids in sorted order, as a read-only sequence of str."""

    def __init__(self, ids):
        self._ids = ids

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [x.decode("utf-8") for x in self._ids[i]]
        return self._ids[i].decode("utf-8")


class RowWriter:
    """Byte ranges ``(start, end)`` appended one by one and flushed to disk in blocks, then saved as an int64
    ``[N, 2]`` ``.npy`` -- memory stays flat however many rows (a list of Python ints would not)."""

    def __init__(self, npy: Path):
        from array import array

        self.npy, self.raw = npy, npy.with_suffix(".raw")
        self._buf, self._array, self.count = array("q"), array, 0
        self._file = open(self.raw, "wb")

    def add(self, start: int, end: int) -> None:
        self._buf.append(start)
        self._buf.append(end)
        self.count += 1
        if len(self._buf) >= 2 * _CHUNK:
            self._buf.tofile(self._file)
            self._buf = self._array("q")

    def finish(self) -> np.ndarray:
        self._buf.tofile(self._file)
        self._file.close()
        raw = np.memmap(self.raw, dtype=np.int64, mode="r", shape=(self.count, 2)) if self.count else np.zeros((0, 2), np.int64)
        out = np.lib.format.open_memmap(self.npy, mode="w+", dtype=np.int64, shape=(self.count, 2))
        for s in range(0, self.count, _CHUNK):
            out[s:s + _CHUNK] = raw[s:s + _CHUNK]
        out.flush()
        del raw
        self.raw.unlink()
        return np.load(self.npy, mmap_mode="r")


def _index(data_file: Path, fmt: str, out: Path, source: Path) -> int:
    """One pass over ``data_file``: validate every line, write rows/ids/order into ``out``; returns the count."""
    writer = RowWriter(out / "rows.npy")
    blocks: list[np.ndarray] = []
    ids: list[bytes] = []
    offset = 0
    with open(data_file, "rb") as f:
        for n, line in enumerate(f, 1):
            length = len(line)
            if line.strip():
                doc = _parse(line, fmt, lambda: f"{source}, line {n}")
                writer.add(offset, offset + length)
                ids.append(doc.docid.encode("utf-8"))
                if len(ids) >= _CHUNK:
                    blocks.append(np.array(ids, dtype=bytes))
                    ids = []
            offset += length
    if ids:
        blocks.append(np.array(ids, dtype=bytes))
    rows = writer.finish()
    if not writer.count:
        raise DataError(f"{source}: no documents (the file is empty)")
    width = max(b.dtype.itemsize for b in blocks)
    all_ids = np.concatenate([b.astype(f"S{width}") for b in blocks])
    del blocks, ids
    order = np.argsort(all_ids, kind="stable")
    sorted_ids = all_ids[order]
    same = np.nonzero(sorted_ids[1:] == sorted_ids[:-1])[0]
    if len(same):
        i = int(same[0])
        first, second = sorted(int(x) for x in order[i:i + 2])
        raise DataError(f"{source}, line {_line_of(data_file, int(rows[second][0]))}: document id "
                        f"{sorted_ids[i].decode('utf-8', 'replace')!r} repeats line "
                        f"{_line_of(data_file, int(rows[first][0]))} ({len(same)} repeated ids in all); ids must be unique")
    np.save(out / "ids.npy", sorted_ids)
    np.save(out / "order.npy", order.astype(np.int64))
    return len(rows)
