"""Sharded, streaming, resumable corpus encoding.

Layout of an embedding directory (``--output``)::

    shard-00000-of-00001.json          the shard's settings and, when finished, its totals
    shard-00000-of-00001/000000.npy    float32 [n, d] embeddings of the chunk's documents
    shard-00000-of-00001/000000.docid  their ids, one per line, in corpus order
    shard-00000-of-00001/000000.json   the chunk's counts (documents, empty, truncated)

A shard is a contiguous range of the corpus; a chunk is ``chunk_size`` consecutive documents of it.
Each chunk's files are written under temporary names and renamed, the ``.npy`` last, so a chunk
either exists completely or not at all; a rerun with ``resume=True`` skips finished chunks (checking
their ids against the corpus) and encodes the rest.  Memory: a background thread reads and tokenizes
the next chunk while the model encodes the current one (a queue of two chunks at most), and every
chunk goes to disk when done, so the peak does not grow with the corpus.
"""
from __future__ import annotations

import json
import queue
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from tctcb._atomic import atomic_open, write_text
from tctcb._command import UserError

from ._encoders import choose_format, load_document_encoder
from ._onnx import resolve_backend

__all__ = ["EncodeError", "encode_corpus", "read_embeddings"]

FORMAT_VERSION = 1
_RUN_KEYS = ("encoder", "corpus", "pooling", "dtype", "max_length", "shard_num", "chunk_size", "corpus_count")


def _run_value(meta: dict, key: str):
    """``meta[key]``, with the pooling under its current name (shards written before ``mean`` say ``st``)."""
    value = meta.get(key)
    return "mean" if key == "pooling" and value == "st" else value


class EncodeError(UserError, RuntimeError):
    """Bad corpus input, or an output directory that cannot be used as asked."""


# -- corpus ----------------------------------------------------------------------------------------
def _open_source(collection: str | None, corpus: str | Path | None):
    """(label, count, iterator factory) for a registered collection or a corpus file.

    Both are read through the data layer's :class:`~tctcb.data.DocStore`, whose one validating pass names the
    file and line of a malformed line, bytes that are not UTF-8, an empty or a repeated document id (a repeated
    id would be encoded twice and searched as one, its passage's rank falling), or an empty file -- before
    anything is encoded or written."""
    from tctcb.data import DataError, DocStore, get_collection  # imported only when encoding

    if (collection is None) == (corpus is None):
        raise EncodeError("give exactly one of a collection name or a corpus file")
    try:
        if corpus is not None:
            p = Path(corpus).resolve()
            if not p.is_file():
                raise EncodeError(f"corpus file {p} not found")
            label, store = str(p), DocStore.open(p)
        else:
            coll = get_collection(collection)
            label, store = coll.name, coll.docstore()
    except DataError as e:
        raise EncodeError(str(e)) from None
    return label, len(store), lambda: ((d.docid, d.contents) for d in store.docs())


# -- output directory -----------------------------------------------------------------------------
def _shard_name(i: int, n: int) -> str:
    return f"shard-{i:05d}-of-{n:05d}"


def _write_json_atomic(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _done_chunks(shard_dir: Path) -> list[int]:
    if not shard_dir.is_dir():
        return []
    done = []
    for f in shard_dir.glob("[0-9]*.npy"):
        c = f.stem
        if c.isdigit() and (shard_dir / f"{c}.docid").is_file() and (shard_dir / f"{c}.json").is_file():
            done.append(int(c))
    return sorted(done)


def _remove_shard(out: Path, name: str) -> None:
    shutil.rmtree(out / name, ignore_errors=True)
    (out / f"{name}.json").unlink(missing_ok=True)


def _prepare_output(out: Path, run: dict, shard_id: int, resume: bool, overwrite: bool) -> list[int]:
    """Check ``out`` against this run; return the chunks already done (when resuming)."""
    out.mkdir(parents=True, exist_ok=True)
    mine = _shard_name(shard_id, run["shard_num"])
    metas = sorted(out.glob("shard-*-of-*.json"))
    others = []
    for m in metas:
        try:
            meta = json.loads(m.read_text())
        except (OSError, json.JSONDecodeError):
            meta = {}
        if any(_run_value(meta, k) != run[k] for k in _RUN_KEYS):
            others.append((m, meta))
    if others:
        m, meta = others[0]
        diff = {k: (meta.get(k), run[k]) for k in _RUN_KEYS if _run_value(meta, k) != run[k]}
        if not overwrite:
            raise EncodeError(
                f"{out} holds shards of another run ({m.name}: {', '.join(f'{k} {a!r} vs {b!r}' for k, (a, b) in diff.items())}); "
                "use another --output, or --overwrite to delete them"
            )
        for m, _ in others:
            _remove_shard(out, m.name[:-len(".json")])
    own = out / f"{mine}.json"
    if own.exists() or (out / mine).exists():
        if overwrite or not _done_chunks(out / mine):  # (a run stopped before its first chunk left nothing to keep)
            _remove_shard(out, mine)
        elif not resume:
            done = len(_done_chunks(out / mine))
            raise EncodeError(
                f"{out} already holds {mine} of this run ({done} chunks written): "
                "use --resume to continue it or --overwrite to start again"
            )
    (out / mine).mkdir(exist_ok=True)
    for tmp in (out / mine).glob(".*.tmp-*"):  # leftovers of a killed run
        tmp.unlink(missing_ok=True)
    return _done_chunks(out / mine)


def _write_chunk(shard_dir: Path, chunk: int, docids: list[str], emb: np.ndarray, stats: dict) -> None:
    stem = f"{chunk:06d}"
    write_text(shard_dir / f"{stem}.docid", "".join(d + "\n" for d in docids))
    write_text(shard_dir / f"{stem}.json", json.dumps(stats, sort_keys=True) + "\n")
    with atomic_open(shard_dir / f"{stem}.npy", "wb") as f:  # last: its presence marks the chunk done
        np.save(f, emb.astype(np.float32, copy=False))


# -- the pipeline ---------------------------------------------------------------------------------
_END = object()


def _producer(docs, start, end, chunk_size, done, shard_dir, encoder, q: queue.Queue, stop: threading.Event):
    """Read the shard's documents, verify finished chunks, tokenize the others; put them on ``q``."""
    try:
        pos, chunk, buf_ids, buf_txt = 0, 0, [], []

        def flush():
            nonlocal chunk, buf_ids, buf_txt
            if chunk in done:
                stored = (shard_dir / f"{chunk:06d}.docid").read_text(encoding="utf-8").splitlines()
                if stored != buf_ids:
                    raise EncodeError(
                        f"{shard_dir}/{chunk:06d}.docid does not match the corpus at these positions "
                        "(the corpus changed since that run): use --overwrite"
                    )
                q.put(("skip", chunk, len(buf_ids)))
            else:
                ids, st = encoder.tokenize(buf_txt)
                q.put(("chunk", chunk, buf_ids, ids, st))
            chunk, buf_ids, buf_txt = chunk + 1, [], []

        for docid, text in docs:
            if stop.is_set():
                return
            if pos >= end:
                break
            if pos >= start:
                if "\n" in docid or "\r" in docid:
                    raise EncodeError(f"document id {docid!r} (position {pos}) contains a line break")
                buf_ids.append(docid)
                buf_txt.append(text)
                if len(buf_ids) == chunk_size:
                    flush()
            pos += 1
        if buf_ids:
            flush()
        if pos < end:
            raise EncodeError(f"the corpus ended after {pos} documents; {end} were counted")
        q.put(_END)
    except BaseException as e:  # handed to the consumer, which re-raises
        q.put(e)


def encode_corpus(
    output: str | Path,
    encoder_dir: str | Path | None = None,
    *,
    collection: str | None = None,
    corpus: str | Path | None = None,
    shard_id: int = 0,
    shard_num: int = 1,
    chunk_size: int = 4096,
    batch_tokens: int | None = None,
    device: str = "cpu",
    dtype: str | None = None,
    pooling: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    backend: str | None = None,
) -> dict:
    """Encode one shard of a collection (by name) or corpus file into ``output``; return the shard's meta.

    ``dtype`` defaults to ``bf16`` on CUDA and ``fp32`` on CPU (where the numbers equal Pyserini's).
    ``backend``: ``torch``, ``onnx`` (``encoder_dir`` is an export of ``python -m tctcb.export --format onnx``,
    whose pooling and precision it records) or None (ONNX for such a folder, else PyTorch).  ``pooling`` None: as
    :func:`~tctcb.encode.choose_format` decides (the export's, the student's record, ``mean`` for a
    sentence-transformers folder, else ``tct``); ``progress``: also print that decision (``format: ...``).
    """
    from tctcb import __version__
    from tctcb.models import resolve_backbone

    if shard_num < 1 or not 0 <= shard_id < shard_num:
        raise EncodeError(f"shard id {shard_id} is not in 0..{shard_num - 1}")
    if chunk_size < 1:
        raise EncodeError(f"chunk size must be positive, got {chunk_size}")
    if resume and overwrite:
        raise EncodeError("--resume and --overwrite exclude each other")
    encoder_dir = resolve_backbone(encoder_dir).resolve()  # None: the default; a name: fetched (all-mpnet-base-v2)
    backend = resolve_backend(encoder_dir, backend)
    choice = choose_format(encoder_dir, None, pooling)  # an export, or a student's record, says which
    pooling = choice.pooling
    if backend != "onnx":  # (the export records its precision)
        dtype = dtype or ("bf16" if str(device).startswith("cuda") else "fp32")
    label, total, make_iter = _open_source(collection, corpus)
    start, end = total * shard_id // shard_num, total * (shard_id + 1) // shard_num
    encoder = load_document_encoder(str(encoder_dir), pooling, device=device, dtype=dtype, batch_tokens=batch_tokens,
                                    backend=backend)
    run = {
        "encoder": str(encoder_dir), "corpus": label, "pooling": pooling, "dtype": encoder.dtype,
        "max_length": encoder.max_length, "shard_num": shard_num, "chunk_size": chunk_size, "corpus_count": total,
    }
    out = Path(output)
    done = set(_prepare_output(out, run, shard_id, resume, overwrite))
    name = _shard_name(shard_id, shard_num)
    shard_dir = out / name
    meta = dict(run, backend=backend, shard_id=shard_id, start=start, end=end, dimension=encoder.dimension,
                status="running", version=__version__, format=FORMAT_VERSION)
    _write_json_atomic(out / f"{name}.json", meta)
    if progress:  # (once the inputs are checked: a user mistake stays one error line)
        print(choice.line(), file=sys.stderr)

    from tqdm.auto import tqdm

    n_docs = end - start
    bar = tqdm(total=n_docs, unit="doc", desc=f"encode {name}", dynamic_ncols=True,
               disable=not progress or not sys.stderr.isatty(), smoothing=0.1)
    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    worker = threading.Thread(target=_producer, args=(make_iter(), start, end, chunk_size, done, shard_dir, encoder, q, stop),
                              daemon=True, name="tctcb-tokenize")
    worker.start()
    t0, encoded = time.perf_counter(), 0
    from concurrent.futures import ThreadPoolExecutor

    writer, pending = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tctcb-write"), None
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            if item[0] == "skip":
                bar.update(item[2])
                continue
            _, chunk, docids, ids, st = item
            emb = encoder.encode_ids(ids)
            if not np.isfinite(emb).all():
                bad = docids[int(np.nonzero(~np.isfinite(emb).all(axis=1))[0][0])]
                raise EncodeError(f"the encoder {encoder_dir} gave a non-finite vector (nan or inf) for document {bad!r}: "
                                  "a broken checkpoint, or --fp16 overflowing (try --bf16)")
            if pending is not None:
                pending.result()  # one chunk being written at a time; re-raises its error
            # written in the background while the model encodes the next chunk
            pending = writer.submit(_write_chunk, shard_dir, chunk, docids, emb, st.as_dict())
            encoded += len(docids)
            bar.update(len(docids))
            bar.set_postfix_str(f"{encoded / max(time.perf_counter() - t0, 1e-9):.1f} passages/s", refresh=False)
        if pending is not None:
            pending.result()
    finally:
        stop.set()
        writer.shutdown(wait=True)
        bar.close()
    worker.join()

    count = empty = truncated = 0
    chunks = _done_chunks(shard_dir)
    expected = (n_docs + chunk_size - 1) // chunk_size
    if chunks != list(range(expected)):
        raise EncodeError(f"{shard_dir}: expected chunks 0..{expected - 1}, found {chunks}")
    for c in chunks:
        st = json.loads((shard_dir / f"{c:06d}.json").read_text())
        count, empty, truncated = count + st["count"], empty + st["empty"], truncated + st["truncated"]
    if count != n_docs:
        raise EncodeError(f"{shard_dir}: {count} documents encoded, {n_docs} expected")
    meta.update(status="complete", count=count, empty=empty, truncated=truncated, chunks=len(chunks))
    _write_json_atomic(out / f"{name}.json", meta)
    secs = time.perf_counter() - t0
    if progress:
        print(f"{name}: {count} documents ({encoded} encoded now, {encoded / max(secs, 1e-9):.1f} passages/s), "
              f"{empty} empty, {truncated} truncated to {encoder.max_length} tokens -> {out}", file=sys.stderr)
    return dict(meta, seconds=secs, encoded=encoded)  # (timing only in the returned copy, not in the file)


# -- reading back ---------------------------------------------------------------------------------
def read_embeddings(emb_dir: str | Path) -> tuple[dict, Iterator[tuple[list[str], np.ndarray]]]:
    """Check that ``emb_dir`` holds all shards of one finished run; return (meta, iterator of
    ``(docids, embeddings)`` chunks in corpus order). ``meta`` is shard 0's, with the total ``count``."""
    d = Path(emb_dir)
    metas = []
    if not d.is_dir():
        raise EncodeError(f"{d}: no such embedding folder (written by python -m tctcb.encode)")
    for m in sorted(d.glob("shard-*-of-*.json")):
        try:
            metas.append(json.loads(m.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise EncodeError(f"{m} is not readable JSON: {e}") from None
    if any(not isinstance(m, dict) or any(k not in m for k in ("shard_id", "shard_num", "status")) for m in metas):
        raise EncodeError(f"{d}: a shard-*.json there was not written by python -m tctcb.encode")
    if not metas:
        raise EncodeError(f"{d} holds no encoded shards (shard-*-of-*.json); encode with python -m tctcb.encode first")
    first = metas[0]
    for m in metas:
        if any(_run_value(m, k) != _run_value(first, k) for k in _RUN_KEYS):
            raise EncodeError(f"{d} mixes shards of different runs (e.g. shard {m.get('shard_id')} vs {first.get('shard_id')})")
    n = first["shard_num"]
    ids = sorted(m["shard_id"] for m in metas)
    if ids != list(range(n)):
        raise EncodeError(f"{d}: shards {sorted(set(range(n)) - set(ids))} of {n} are missing")
    unfinished = [m["shard_id"] for m in metas if m.get("status") != "complete"]
    if unfinished:
        raise EncodeError(f"{d}: shards {unfinished} are not finished (rerun python -m tctcb.encode ... --resume)")
    metas.sort(key=lambda m: m["shard_id"])
    total = sum(m["count"] for m in metas)
    if total != first["corpus_count"]:
        raise EncodeError(f"{d}: shards hold {total} documents, the corpus has {first['corpus_count']}")
    info = dict(first, count=total, shard_id=None, empty=sum(m["empty"] for m in metas),
                truncated=sum(m["truncated"] for m in metas))

    def chunks():
        for m in metas:
            sd = d / _shard_name(m["shard_id"], n)
            for c in range(m["chunks"]):
                try:
                    docids = (sd / f"{c:06d}.docid").read_bytes().decode("utf-8").splitlines()
                except UnicodeDecodeError:
                    raise EncodeError(f"{sd}/{c:06d}.docid is not UTF-8 text: not written by tctcb.encode") from None
                try:
                    emb = np.load(sd / f"{c:06d}.npy", allow_pickle=False)
                except (ValueError, EOFError, OSError) as e:
                    raise EncodeError(f"{sd}/{c:06d}.npy is truncated or not a .npy array ({e}): encode again with "
                                      "--overwrite") from None
                if emb.shape != (len(docids), first["dimension"]):
                    raise EncodeError(f"{sd}/{c:06d}.npy has shape {emb.shape}, expected ({len(docids)}, {first['dimension']})")
                yield docids, emb

    return info, chunks()
