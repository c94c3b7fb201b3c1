"""FAISS indexes from encoded shards, in Pyserini's directory layout.

``python -m tctcb.index faiss --input EMB_DIR --output INDEX_DIR --type flat|hnsw|pq|sq8`` merges the
shards written by ``python -m tctcb.encode`` in corpus order and writes ``INDEX_DIR`` with

- ``index``: the FAISS index (inner product unless ``--metric l2``), readable by ``faiss.read_index``;
- ``docid``: one document id per line, row order of the index;
- ``meta.json``: encoder, pooling, dimension, metric, type (+ parameters), corpus, count, version.

Pyserini's ``FaissSearcher(INDEX_DIR, query_encoder)`` opens it unchanged.  The directory is built
under a temporary name beside ``INDEX_DIR`` and renamed when complete.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from tctcb._command import ArgumentParser, UserError, command, number
from tctcb._atomic import swap_dir, tmp_dir

__all__ = ["FaissIndexError", "build_faiss_index", "main", "INDEX_TYPES"]

INDEX_TYPES = ("flat", "hnsw", "pq", "sq8")


class FaissIndexError(UserError, RuntimeError):
    """The embeddings or the requested index cannot be built."""


def _default_pq_m(d: int) -> int:
    """Pyserini's 192 sub-quantizers for 768 dimensions, i.e. d/4 (or the largest divisor of d below it)."""
    for m in range(max(d // 4, 1), 0, -1):
        if d % m == 0:
            return m
    return 1


def _make_index(kind: str, d: int, metric: str, hnsw_m: int, ef_construction: int, pq_m: int, pq_nbits: int):
    import faiss

    mt = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
    if kind == "flat":
        return faiss.IndexFlatIP(d) if metric == "ip" else faiss.IndexFlatL2(d)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, mt)
        index.hnsw.efConstruction = ef_construction
        return index
    if kind == "pq":
        if d % pq_m:
            raise FaissIndexError(f"--pq-m {pq_m} must divide the dimension {d}")
        return faiss.IndexPQ(d, pq_m, pq_nbits, mt)
    if kind == "sq8":
        return faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, mt)
    raise FaissIndexError(f"unknown index type {kind!r}; choose one of {INDEX_TYPES}")


def _training_sample(emb_dir, count: int, size: int, seed: int = 0) -> np.ndarray:
    """Up to ``size`` rows drawn uniformly (fixed seed) from all chunks, in one pass."""
    from tctcb.encode import read_embeddings

    _, chunks = read_embeddings(emb_dir)
    if count <= size:
        return np.concatenate([e for _, e in chunks]).astype(np.float32)
    rows = np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))
    parts, offset = [], 0
    for _, e in chunks:
        sel = rows[(rows >= offset) & (rows < offset + len(e))] - offset
        parts.append(e[sel])
        offset += len(e)
    return np.concatenate(parts).astype(np.float32)


def _check_unique(blocks: list[np.ndarray], emb_dir) -> None:
    """Refuse repeated document ids: search keeps one score per id, so a repeated passage would silently fall."""
    if not blocks:
        return
    width = max(b.dtype.itemsize for b in blocks)
    ids = np.concatenate([b.astype(f"S{width}") for b in blocks])
    order = np.argsort(ids, kind="stable")
    same = np.nonzero(ids[order][1:] == ids[order][:-1])[0]
    if len(same):
        first, second = sorted(int(x) for x in order[same[0]:same[0] + 2])
        raise FaissIndexError(f"{emb_dir}: document id {ids[first].decode('utf-8', 'replace')!r} is at rows {first} and "
                              f"{second} ({len(same)} repeated ids in all); document ids must be unique: encode a "
                              "corpus without repeated ids")


def build_faiss_index(
    emb_dir: str | Path,
    index_dir: str | Path,
    kind: str = "flat",
    *,
    metric: str = "ip",
    hnsw_m: int = 256,
    ef_construction: int = 256,
    ef_search: int | None = None,
    pq_m: int | None = None,
    pq_nbits: int = 8,
    train_size: int = 200_000,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Build ``index_dir`` (``index``, ``docid``, ``meta.json``) from the shards in ``emb_dir``."""
    import faiss
    from tctcb import __version__
    from tctcb.encode import read_embeddings

    if kind not in INDEX_TYPES:
        raise FaissIndexError(f"unknown index type {kind!r}; choose one of {INDEX_TYPES}")
    if metric not in ("ip", "l2"):
        raise FaissIndexError(f"metric must be ip or l2, got {metric!r}")
    target = Path(index_dir)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise FaissIndexError(f"{target} exists and is not empty: choose another --output or pass --overwrite")
    info, chunks = read_embeddings(emb_dir)  # validates: all shards present, finished, one run
    d, count = int(info["dimension"]), int(info["count"])
    if count == 0:
        raise FaissIndexError(f"{emb_dir} holds no documents")
    pq_m = pq_m or _default_pq_m(d)
    index = _make_index(kind, d, metric, hnsw_m, ef_construction, pq_m, pq_nbits)
    if not index.is_trained:
        need = 2 ** pq_nbits if kind == "pq" else 1
        if count < need:
            raise FaissIndexError(f"a {kind} index with {pq_nbits}-bit codes needs at least {need} vectors to train; "
                                  f"{emb_dir} has {count} (use --type flat or a smaller --pq-nbits)")
        index.train(_training_sample(emb_dir, count, train_size))
    if kind == "hnsw" and ef_search:
        index.hnsw.efSearch = ef_search

    from tqdm.auto import tqdm

    tmp = tmp_dir(target)
    t0 = time.perf_counter()
    try:
        n, seen = 0, []
        with open(tmp / "docid", "w", encoding="utf-8") as ids_out, \
                tqdm(total=count, unit="vec", desc=f"faiss {kind}", disable=not progress or not sys.stderr.isatty()) as bar:
            for docids, emb in chunks:
                if not np.isfinite(emb).all():
                    bad = docids[int(np.nonzero(~np.isfinite(emb).all(axis=1))[0][0])]
                    raise FaissIndexError(f"{emb_dir}: the vector of document {bad!r} is not finite (nan or inf): "
                                          "a broken encoder or file; encode again")
                index.add(np.ascontiguousarray(emb, dtype=np.float32))
                ids_out.writelines(x + "\n" for x in docids)
                seen.append(np.array([x.encode("utf-8") for x in docids], dtype=bytes))
                n += len(docids)
                bar.update(len(docids))
        if n != count or index.ntotal != count:
            raise FaissIndexError(f"added {index.ntotal} vectors from {n} ids; the shards announce {count}")
        _check_unique(seen, emb_dir)
        faiss.write_index(index, str(tmp / "index"))
        params = {"flat": {}, "hnsw": {"M": hnsw_m, "efConstruction": ef_construction, "efSearch": index.hnsw.efSearch if kind == "hnsw" else None},
                  "pq": {"M": pq_m, "nbits": pq_nbits}, "sq8": {}}[kind]
        meta = {
            "encoder": info["encoder"], "pooling": info["pooling"], "dtype": info["dtype"],
            "backend": info.get("backend", "torch"),  # (an ONNX export as encoder: "onnx")
            "dimension": d, "metric": "inner_product" if metric == "ip" else "l2", "type": kind, "params": params,
            "corpus": info["corpus"], "count": count, "empty": info.get("empty", 0), "truncated": info.get("truncated", 0),
            "max_length": info.get("max_length"), "version": __version__, "created_by": f"tctcb {__version__}",
            "faiss_version": faiss.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        swap_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        print(f"{target}: {kind} index of {count} vectors, dimension {d} ({time.perf_counter() - t0:.1f}s)", file=sys.stderr)
    return target


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.index faiss",
                                description="Build a FAISS index (Pyserini layout: index, docid, meta.json) from encoded shards.")
    p.add_argument("--input", required=True, help="embedding directory written by python -m tctcb.encode")
    p.add_argument("--output", required=True, help="index directory to create")
    p.add_argument("--type", choices=INDEX_TYPES, default="flat")
    p.add_argument("--metric", choices=("ip", "l2"), default="ip", help="inner product (default; TCT-ColBERT) or L2")
    p.add_argument("--hnsw-m", type=number(int, lo=2), default=256, help="HNSW neighbours per node (Pyserini's default 256)")
    p.add_argument("--ef-construction", type=number(int, lo=1), default=256, help="HNSW efConstruction (Pyserini's default 256)")
    p.add_argument("--ef-search", type=number(int, lo=1), default=None, help="HNSW efSearch stored in the index (faiss default 16)")
    p.add_argument("--pq-m", type=number(int, lo=1), default=None, help="PQ sub-quantizers (default: dimension/4)")
    p.add_argument("--pq-nbits", type=number(int, lo=1, hi=16), default=8)
    p.add_argument("--train-size", type=number(int, lo=1), default=200_000, help="vectors sampled to train pq/sq8")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.add_argument("--quiet", action="store_true")
    return p


@command
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from tctcb.encode import EncodeError

    try:
        build_faiss_index(args.input, args.output, args.type, metric=args.metric, hnsw_m=args.hnsw_m,
                          ef_construction=args.ef_construction, ef_search=args.ef_search, pq_m=args.pq_m,
                          pq_nbits=args.pq_nbits, train_size=args.train_size, overwrite=args.overwrite,
                          progress=not args.quiet)
    except (FaissIndexError, EncodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
