"""JSON-lines corpora: reading Pyserini JsonCollection (``{"id","contents"}``) or BEIR corpus
(``{"_id","title","text"}``) files, and writing a Pyserini JsonCollection directory atomically."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable, Iterator

from tctcb._atomic import tmp_dir
from ._archive import Source, iter_lines, source_name
from ._paths import DataError
from ._records import Document

#: name of the one JSONL file inside a directory written by ``write_jsonl_collection``
JSONL_NAME = "docs.jsonl"


def iter_json_objects(src: Source) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line; a broken line is a DataError naming file and line."""
    for n, line in iter_lines(src):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{source_name(src)}, line {n}: malformed JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{source_name(src)}, line {n}: expected a JSON object, got {type(obj).__name__}")
        yield n, obj


def read_jsonl_corpus(src: Source) -> Iterator[Document]:
    """Documents of a JSONL corpus, in file order: Pyserini JsonCollection lines ``{"id", "contents"}``
    (title empty) or BEIR lines ``{"_id", "title", "text"}``."""
    name = source_name(src)
    for n, obj in iter_json_objects(src):
        if "id" in obj and "contents" in obj:
            yield Document(str(obj["id"]), "", str(obj["contents"]))
        elif "_id" in obj and "text" in obj:
            yield Document(str(obj["_id"]), str(obj.get("title") or ""), str(obj["text"]))
        else:
            raise DataError(
                f"{name}, line {n}: neither a JsonCollection line {{'id','contents'}} nor a BEIR line "
                f"{{'_id','title','text'}} (keys: {sorted(obj)})"
            )


def complete_count(directory: Path) -> int | None:
    """The number of lines of ``directory/docs.jsonl``, or None when it is absent. The directory only
    appears by an atomic rename of a fully written one, and nothing else is put in it (Anserini would
    index any other file as well)."""
    try:
        with open(Path(directory) / JSONL_NAME, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def write_jsonl_collection(docs: Iterable[Document], directory: Path, expected: int | None = None) -> Path:
    """Write ``docs`` as Pyserini JsonCollection JSONL (``{"id","contents"}``, one per line) into ``directory``.

    Written into a temporary sibling directory and renamed into place, so a reader never sees half a
    collection; reused as is when ``directory`` is already complete (and holds ``expected`` documents)."""
    directory = Path(directory)
    have = complete_count(directory)
    if have is not None and (expected is None or have == expected):
        return directory
    tmp = tmp_dir(directory)
    try:
        count = 0
        with open(tmp / JSONL_NAME, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"id": d.docid, "contents": d.contents}, ensure_ascii=False) + "\n")
                count += 1
        if expected is not None and count != expected:
            raise DataError(f"wrote {count} documents for {directory.name}, expected {expected}")
        if directory.exists():  # stale or incomplete: replace it
            shutil.rmtree(directory, ignore_errors=True)
        try:
            os.replace(tmp, directory)
        except OSError:
            if complete_count(directory) != count:  # not another writer finishing the same work first
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory
