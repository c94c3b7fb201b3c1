#!/usr/bin/env python
"""Search throughput and latency: tctcb vs Pyserini on the same indexes, encoder weights and machine.

NFCorpus test topics (323), BM25 (Lucene, k1 0.9 b 0.4) + zero-shot all-MiniLM-L6-v2 dense (flat
inner-product index, sentence-transformers pooling).  Pyserini: ``FaissSearcher`` with
``AutoQueryEncoder(pooling="mean", l2_norm=True)`` and ``HybridSearcher``; tctcb:
``DenseSearcher`` with the batched ``SentenceTransformerEncoder`` and ``HybridSearcher``.  Both share
one ``LuceneSearcher``.  Rankings are checked identical (up to ties) in the same run.

    TCTCB_DATA=../shared/data .venv/bin/python bin/bench_search.py [--k0 1000] [--latency-queries 100]
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
    p.add_argument("--latency-queries", type=int, default=50, help="queries for single-query latency")
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

    m = min(args.latency_queries, n)
    for name, py_fn, our_fn in (
        ("dense search", lambda q: s.py_dense.search(q, k=k0), lambda q: s.our_dense.search(q, k=k0)),
        ("hybrid search", lambda q: s.py_hybrid.search(q, k0=k0, k=k0, alpha=args.alpha),
         lambda q: s.our_hybrid.search(q, k0=k0, k=k0, alpha=args.alpha)),
    ):
        lat = {}
        for side, fn in (("pyserini", py_fn), ("tctcb", our_fn)):
            times = []
            for q in queries[:m]:
                t = time.perf_counter()
                fn(q)
                times.append(time.perf_counter() - t)
            lat[side] = np.percentile(np.array(times) * 1000, [50, 99])
        print(f"{name:22s} latency ms p50/p99 over {m} queries: pyserini {lat['pyserini'][0]:.1f}/{lat['pyserini'][1]:.1f}"
              f", tctcb {lat['tctcb'][0]:.1f}/{lat['tctcb'][1]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
