"""Lucene (Anserini) indexes of registered collections, and BM25 runs, with Pyserini's Anserini fatjar.

Indexing runs in this process: :func:`tctcb.java.start` first, then Anserini's ``IndexCollection``
through its ``Args`` object and ``run()`` (not ``main``, which may call ``System.exit`` and would take
Python down with it). An index is built in a temporary folder beside its final place, its document
count is checked against the collection's, and only then renamed into place: a half index is never
left where a reader would find it.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Mapping

from tctcb._command import ArgumentParser, UserError, command, number
from tctcb._atomic import swap_dir, tmp_dir

__all__ = ["IndexingError", "build_lucene_index", "index_lucene", "lucene_index_dir", "count_lucene_docs",
           "main", "bm25_main"]

# Anserini collection class per registered collection (default: JsonCollection over jsonl_dir()).
# CACM is indexed from its HTML files as in Anserini's published regression (HtmlCollection).
_HTML_COLLECTIONS = {"cacm"}
_GENERATOR = "DefaultLuceneDocumentGenerator"


class IndexingError(UserError, RuntimeError):
    """Indexing failed or produced a different number of documents than the collection has."""


def lucene_index_dir(collection_name: str, kind: str = "bm25") -> Path:
    """Where :func:`build_lucene_index` puts the index of ``collection_name`` (in the cache). A user dataset's
    index is kept under a name that changes with its corpus file, so one registered again is indexed again."""
    from tctcb.data import DataError, cache_dir, get_collection

    try:
        key = get_collection(collection_name).cache_name
    except DataError:
        key = collection_name
    return Path(cache_dir()) / "indexes" / f"lucene-{kind}.{key}"


def count_lucene_docs(index_dir: str | os.PathLike) -> int:
    """Number of (live) documents in the Lucene index at ``index_dir``."""
    from tctcb import java

    java.start()
    import jnius

    File = jnius.autoclass("java.io.File")
    FSDirectory = jnius.autoclass("org.apache.lucene.store.FSDirectory")
    DirectoryReader = jnius.autoclass("org.apache.lucene.index.DirectoryReader")
    directory = FSDirectory.open(File(str(index_dir)).toPath())
    try:
        reader = DirectoryReader.open(directory)
        try:
            return int(reader.numDocs())
        finally:
            reader.close()
    finally:
        directory.close()


def index_lucene(input_dir: str | os.PathLike, index_dir: str | os.PathLike, collection_class: str = "JsonCollection",
                 threads: int = 2, expected_count: int | None = None, extra: Mapping[str, object] | None = None,
                 quiet: bool = True, before_rename=None) -> int:
    """Index ``input_dir`` with Anserini into ``index_dir`` (built in a temporary folder, then renamed).

    Options are those of ``python -m pyserini.index.lucene --generator DefaultLuceneDocumentGenerator
    --storePositions --storeDocvectors --storeRaw``. Returns the document count; raises
    :class:`IndexingError` (and leaves nothing at ``index_dir``) when it differs from ``expected_count``.
    ``before_rename(tmp_dir, count)`` may add files (metadata) to the checked index before it moves.
    """
    from tctcb import java

    input_dir, index_dir = Path(input_dir), Path(index_dir)
    if not input_dir.is_dir():
        raise IndexingError(f"input folder {input_dir} not found")
    tmp = tmp_dir(index_dir)
    tmp.rmdir()  # Anserini creates the folder itself
    java.start()
    import jnius

    Args = jnius.autoclass("io.anserini.index.IndexCollection$Args")
    IndexCollection = jnius.autoclass("io.anserini.index.IndexCollection")
    args = Args()
    args.input = str(input_dir)
    args.index = str(tmp)
    args.collectionClass = collection_class
    args.generatorClass = _GENERATOR
    args.threads = int(threads)
    args.storePositions = True
    args.storeDocvectors = True
    args.storeRaw = True
    args.quiet = bool(quiet)  # Anserini logs to stdout otherwise
    for key, value in (extra or {}).items():
        setattr(args, key, value)
    try:
        try:
            IndexCollection(args).run()
        except jnius.JavaException as e:
            raise IndexingError(f"Anserini could not index {input_dir} as {collection_class}: {e}") from e
        try:
            count = count_lucene_docs(tmp)
        except jnius.JavaException as e:  # e.g. no index written at all (empty input folder)
            raise IndexingError(f"no Lucene index came out of {input_dir} ({collection_class}): {e}") from e
        if expected_count is not None and count != expected_count:
            raise IndexingError(
                f"indexed {count} documents from {input_dir} but the collection has {expected_count}: "
                "refusing a partial index (a malformed input file?)"
            )
        if before_rename is not None:
            before_rename(tmp, count)
        swap_dir(tmp, index_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return count


def build_lucene_index(collection_name: str, kind: str = "bm25", threads: int = 2, force: bool = False,
                       quiet: bool = True) -> Path:
    """BM25 (Lucene) index of a registered collection, in the cache; reused when already built.

    JSONL collections: Anserini ``JsonCollection`` over ``collection.jsonl_dir()`` (contents = Pyserini
    BEIR "flat" text); CACM: ``HtmlCollection`` over ``collection.html_dir()`` (Anserini's regression).
    The index folder appears only after its document count was checked (documents with empty contents,
    which Anserini skips, excepted), with a ``meta.json``; an existing one is reused unless ``force``.
    """
    from tctcb.data import get_collection

    if kind != "bm25":
        raise ValueError(f"unknown Lucene index kind {kind!r} (only 'bm25')")
    collection = get_collection(collection_name)
    name = collection.name
    final = lucene_index_dir(name, kind)
    meta_path = final / "meta.json"
    if not force and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("collection") == name and meta.get("kind") == kind and isinstance(meta.get("count"), int):
            return final
    if name in _HTML_COLLECTIONS:
        source, collection_class = collection.html_dir(), "HtmlCollection"
    else:
        source, collection_class = collection.jsonl_dir(), "JsonCollection"
    # Anserini skips documents with empty contents (Cranfield has two): they are expected to be missing.
    if hasattr(collection, "indexable_count"):
        expected = int(collection.indexable_count())
    else:
        expected = sum(1 for d in collection.docs() if d.contents.strip())
    start = time.time()
    meta = {"collection": name, "kind": kind, "documents": len(collection), "anserini_collection": collection_class,
            "generator": _GENERATOR, "options": ["-storePositions", "-storeDocvectors", "-storeRaw"]}

    def write_meta(tmp_index: Path, count: int) -> None:
        meta.update(count=count, empty_skipped=len(collection) - count, seconds=round(time.time() - start, 1))
        (tmp_index / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")

    index_lucene(source, final, collection_class, threads=threads, expected_count=expected, quiet=quiet,
                 before_rename=write_meta)
    return final


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


@command
def main(argv: list[str] | None = None) -> int:
    """``python -m tctcb.index lucene --collection NAME [--threads N] [--force]``: prints the index folder."""
    p = ArgumentParser(prog="python -m tctcb.index lucene",
                                description="Build the BM25 Lucene index of a registered collection in the cache.")
    p.add_argument("--collection", required=True, help="registered collection (adi, cacm, cranfield, nfcorpus, ...) "
                   "or a dataset registered with 'python -m tctcb.data add'")
    p.add_argument("--threads", type=number(int, lo=1), default=2)
    p.add_argument("--force", action="store_true", help="rebuild even when a complete index exists")
    p.add_argument("--verbose", action="store_true", help="show Anserini's indexing log")
    args = p.parse_args(argv)
    from tctcb.data import DataError

    try:
        path = build_lucene_index(args.collection, threads=args.threads, force=args.force,
                                  quiet=not args.verbose)
    except (DataError, IndexingError, ValueError, OSError) as e:
        return _error(str(e))
    print(path)
    return 0


@command
def bm25_main(argv: list[str] | None = None) -> int:
    """``python -m tctcb.index bm25-run --collection NAME|--index DIR --topics NAME|FILE --output RUN``."""
    p = ArgumentParser(prog="python -m tctcb.index bm25-run",
                                description="BM25 run over a Lucene index (built in the cache when --collection is given).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--collection", help="registered collection; its index is built in the cache if missing")
    src.add_argument("--index", help="Lucene index folder")
    p.add_argument("--topics", required=True, help="topic set name (e.g. nfcorpus-test) or topics file")
    p.add_argument("--output", required=True, help="run file to write")
    p.add_argument("--output-format", choices=["trec", "msmarco"], default="trec")
    p.add_argument("--hits", type=number(int, lo=1), default=1000)
    p.add_argument("--bm25-k1", type=number(float, lo=0), default=0.9)
    p.add_argument("--bm25-b", type=number(float, lo=0, hi=1), default=0.4)
    p.add_argument("--threads", type=number(int, lo=1), default=2, help="Lucene indexing threads (when the index is built)")
    p.add_argument("--remove-query", action="store_true", help="drop hits whose docid equals the qid (Pyserini BEIR)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    from tctcb import data
    from tctcb.eval import write_run
    from tctcb.index._bm25 import bm25_run

    try:
        topics = data.load_topics(args.topics)
        index = Path(args.index) if args.index else build_lucene_index(args.collection, threads=args.threads)
        run = bm25_run(index, topics, k=args.hits, k1=args.bm25_k1, b=args.bm25_b,
                       remove_query=args.remove_query, progress=False if args.quiet else None)
        write_run(run, args.output, format=args.output_format, tag="bm25")
    except (data.DataError, IndexingError, ValueError, OSError) as e:
        return _error(str(e))
    print(f"{len(run)} queries -> {args.output}", file=sys.stderr)
    return 0
