"""``python -m tctcb.fuse --runs A B [C ...] --output OUT [--method rrf|weighted] [--weights ...]``.

    python -m tctcb.fuse --runs dense.trec bm25.trec splade.trec --output fused.trec
    python -m tctcb.fuse --runs dense.trec bm25.trec --method weighted --weights 1 0.5 \\
        --normalization --output hybrid.trec

Runs may be TREC or MS MARCO (format sniffed; an MS MARCO hit at rank r scores 1 / r).  Bad input (a
missing or malformed run, a weight count that does not match, fewer than two runs) ends with exit
status 2 and one ``error:`` line naming the file and line or the argument; the output is written to
a temporary name and renamed when complete.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tctcb.fuse", description="Fuse two or more run files.")
    p.add_argument("--runs", nargs="+", required=True, metavar="RUN", help="run files (TREC or MS MARCO)")
    p.add_argument("--output", required=True, help="fused run file to write (atomically)")
    p.add_argument("--method", choices=("rrf", "weighted"), default="rrf",
                   help="reciprocal-rank fusion (default) or weighted score fusion")
    p.add_argument("--weights", nargs="+", type=float, metavar="W", help="one weight per run (default: 1 each)")
    p.add_argument("--normalization", action="store_true",
                   help="weighted: min-max-centre each run's scores per query before weighting")
    p.add_argument("--rrf-k", type=int, default=60, help="rrf: the constant k in 1 / (k + rank)")
    p.add_argument("--depth", type=int, default=1000, help="hits taken from each run per query")
    p.add_argument("--hits", type=int, default=1000, help="hits per query in the fused run")
    p.add_argument("--output-format", choices=("trec", "msmarco"), default="trec")
    p.add_argument("--run-tag", default="tctcb-fuse", help="TREC run tag (one word)")
    p.add_argument("--quiet", action="store_true", help="no summary line")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tctcb.eval._runs import RunFormatError, read_run, write_run
    from tctcb.fuse._fuse import fuse_runs

    try:
        if len(args.runs) < 2:
            raise ValueError(f"--runs: fusion needs at least 2 run files, got {len(args.runs)}")
        if args.weights is not None and len(args.weights) != len(args.runs):
            raise ValueError(f"--weights: {len(args.weights)} weights for {len(args.runs)} runs")
        if args.normalization and args.method != "weighted":
            raise ValueError("--normalization applies to --method weighted only")
        for name in ("depth", "hits"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
        if args.rrf_k < 0:
            raise ValueError(f"--rrf-k must be >= 0, got {args.rrf_k}")
        runs = [read_run(path) for path in args.runs]
        fused = fuse_runs(runs, method=args.method, weights=args.weights, depth=args.depth, hits=args.hits,
                          rrf_k=args.rrf_k, normalization=args.normalization)
        write_run(fused, args.output, format=args.output_format, tag=args.run_tag)
    except (RunFormatError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        seen = Counter(q for run in runs for q in run)
        partial = sum(1 for n in seen.values() if n < len(runs))
        print(f"fused {len(runs)} runs ({args.method}): {len(fused)} queries"
              + (f", {partial} of them missing from some run" if partial else "")
              + f" -> {args.output}", file=sys.stderr)
    return 0
