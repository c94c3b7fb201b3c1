#!/usr/bin/env python
"""Search throughput and latency: tctcb vs Pyserini on the same indexes, encoder weights and machine.

NFCorpus test topics (323), BM25 (Lucene, k1 0.9 b 0.4) + zero-shot all-MiniLM-L6-v2 dense (flat
inner-product index, sentence-transformers pooling).  Pyserini: ``FaissSearcher`` with
``AutoQueryEncoder(pooling="mean", l2_norm=True)`` and ``HybridSearcher``; tctcb:
``DenseSearcher`` with the batched ``SentenceTransformerEncoder`` and ``HybridSearcher``.  Both share
one ``LuceneSearcher``.  Rankings are checked identical (up to ties) in the same run.

    TCTCB_DATA=../shared/data .venv/bin/python bin/bench_search.py [--k0 1000] [--latency-queries 0] [--latency-rounds 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test scaffolding (tiny models, side-by-side setup)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _timed(fn, repeat):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _pcts(times_ms: np.ndarray) -> list[float]:
    """p50, p90, p99 and max of the per-query latencies (each query's median over the rounds)."""
    per_query = np.median(times_ms, axis=1)
    return [*np.percentile(per_query, [50, 90, 99]), float(per_query.max())]


def _latencies(queries, fns: dict, rounds: int) -> dict[str, np.ndarray]:
    """Single-query latency in ms, [queries, rounds] per side; the sides alternate query by query (and which
    goes first alternates), so a pause of the machine or a garbage collection falls on either side alike."""
    out = {side: np.zeros((len(queries), rounds)) for side in fns}
    sides = list(fns)
    for r in range(rounds):
        for i, q in enumerate(queries):
            for side in (sides if (i + r) % 2 == 0 else sides[::-1]):
                t = time.perf_counter()
                fns[side](q)
                out[side][i, r] = (time.perf_counter() - t) * 1000
    return out


def _tail(queries, times: dict, fns: dict, stages: dict, top: int = 5, again: int = 5) -> None:
    """Is the tail real?  The slowest queries of each side (worst single round) timed ``again`` more times
    each, with tctcb's stages (dense search, BM25 search) timed alone: a query that is slow every time has a
    cost of its own (its length, its postings); one that is fast again was a pause of the machine."""
    import gc

    print(f"tail: the {top} slowest single hybrid queries of each side, then the same query {again} more times "
          f"(median ms), with tctcb's stages alone:", flush=True)
    for side, t in times.items():
        worst = np.argsort(-t.max(axis=1))[:top]
        for i in worst:
            q = queries[i]
            rerun = {}
            for label, fn in {side: fns[side], **stages}.items():
                xs = []
                for _ in range(again):
                    t0 = time.perf_counter()
                    fn(q)
                    xs.append((time.perf_counter() - t0) * 1000)
                rerun[label] = float(np.median(xs))
            print(f"  {side:9s} q#{i:<4d} {len(q.split()):3d} words: worst {t[i].max():6.1f} (median of rounds "
                  f"{np.median(t[i]):5.1f}); again {rerun[side]:5.1f}; tctcb dense {rerun['dense']:5.1f}, "
                  f"bm25 {rerun['bm25']:5.1f}", flush=True)
    print(f"  python gc collections so far (gen 0/1/2): {[g['collections'] for g in gc.get_stats()]}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topics", default="nfcorpus-test")
    p.add_argument("--collection", default="nfcorpus")
    p.add_argument("--k0", type=int, default=1000, help="hits per side (and fused hits)")
    p.add_argument("--alpha", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeat", type=int, default=1, help="batch timings: best of N")
    p.add_argument("--torch-threads", type=int, default=None, help="torch intra-op threads (default: all cores)")
    p.add_argument("--latency-queries", type=int, default=0, help="queries for single-query latency (0: all)")
    p.add_argument("--latency-rounds", type=int, default=3, help="single-query latency: rounds over the queries")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.torch_threads or max(1, os.cpu_count() or 1))
    from side_by_side import build_setup, ranking_problems

    s = build_setup(args.topics, args.collection, batch_size=args.batch_size)
    qids = list(s.topics)
    queries = [s.topics[q] for q in qids]
    n, k0, th = len(qids), args.k0, args.threads
    print(f"device: {_device()}; torch threads {torch.get_num_threads()}; {n} queries ({args.topics}), "
          f"k0 = k = {k0}, threads {th}, alpha {args.alpha}", flush=True)
    # warm up both (model load, JIT, page cache)
    s.py_hybrid.batch_search(queries[:8], qids[:8], k0=k0, k=k0, threads=th, alpha=args.alpha)
    s.our_hybrid.batch_search(queries[:8], qids[:8], k0=k0, k=k0, threads=th, alpha=args.alpha)

    print(f"{'':22s} {'pyserini q/s':>13s} {'tctcb q/s':>10s} {'ratio':>7s}  rankings", flush=True)
    for name, py_fn, our_fn in (
        ("dense batch_search", lambda: s.py_dense.batch_search(queries, qids, k=k0, threads=th),
         lambda: s.our_dense.batch_search(queries, qids, k=k0, threads=th)),
        ("sparse batch_search", lambda: s.py_sparse.batch_search(queries, qids, k=k0, threads=th),
         lambda: s.our_sparse.batch_search(queries, qids, k=k0, threads=th)),
        ("hybrid batch_search", lambda: s.py_hybrid.batch_search(queries, qids, k0=k0, k=k0, threads=th, alpha=args.alpha),
         lambda: s.our_hybrid.batch_search(queries, qids, k0=k0, k=k0, threads=th, alpha=args.alpha)),
    ):
        tp, rp = _timed(py_fn, args.repeat)
        to, ro = _timed(our_fn, args.repeat)
        bad = [q for q in qids if ranking_problems(ro[q], rp[q], tol=2e-5)]
        same = "identical (up to ties)" if not bad else f"DIFFER on {len(bad)} queries, e.g. {bad[:3]}"
        print(f"{name:22s} {n / tp:13.1f} {n / to:10.1f} {tp / to:6.2f}x  {same}", flush=True)

    m = min(args.latency_queries or n, n)
    for name, py_fn, our_fn in (
        ("dense search", lambda q: s.py_dense.search(q, k=k0), lambda q: s.our_dense.search(q, k=k0)),
        ("hybrid search", lambda q: s.py_hybrid.search(q, k0=k0, k=k0, alpha=args.alpha),
         lambda q: s.our_hybrid.search(q, k0=k0, k=k0, alpha=args.alpha)),
    ):
        times = _latencies(queries[:m], {"pyserini": py_fn, "tctcb": our_fn}, args.latency_rounds)
        print(f"{name:22s} latency ms over {m} queries x {args.latency_rounds} rounds, sides interleaved "
              f"(p50/p90/p99/max): " + "; ".join(f"{side} " + "/".join(f"{v:.1f}" for v in _pcts(t))
                                                 for side, t in times.items()), flush=True)
        if name == "hybrid search":
            _tail(queries[:m], times, {"pyserini": py_fn, "tctcb": our_fn},
                  {"dense": lambda q: s.our_dense.search(q, k=k0), "bm25": lambda q: s.our_sparse.search(q, k=k0)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
