"""``python -m tctcb.fuse --runs A B [C ...] --output OUT [--method rrf|weighted] [--weights ...]``.

    python -m tctcb.fuse --runs dense.trec bm25.trec splade.trec --output fused.trec
    python -m tctcb.fuse --runs dense.trec bm25.trec --method weighted --weights 1 0.5 \\
        --normalization --output hybrid.trec
    python -m tctcb.fuse --runs dense.test bm25.test splade.test --dev-runs dense.dev bm25.dev splade.dev \\
        --tune-weights-on nfcorpus-dev --output fused.test

``--tune-weights-on QRELS`` chooses one weight per run on ``--dev-runs`` (the same retrievers, in the
same order, on dev topics) by coordinate ascent over ``--weight-grid`` (tctcb.fuse._tune), prints the
choice, and fuses ``--runs`` with it.

Runs may be TREC or MS MARCO (format sniffed; an MS MARCO hit at rank r scores 1 / r).  Bad input (a
missing or malformed run, a weight count that does not match, fewer than two runs) ends with exit
status 2 and one ``error:`` line naming the file and line or the argument; the output is written to
a temporary name and renamed when complete.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from tctcb._command import ArgumentParser, command, number

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.fuse", description="Fuse two or more run files.")
    p.add_argument("--runs", nargs="+", required=True, metavar="RUN", help="run files (TREC or MS MARCO)")
    p.add_argument("--output", required=True, help="fused run file to write (atomically)")
    p.add_argument("--method", choices=("rrf", "weighted"), default="rrf",
                   help="reciprocal-rank fusion (default) or weighted score fusion")
    p.add_argument("--weights", nargs="+", type=number(float, lo=0), metavar="W", help="one weight per run (default: 1 each)")
    p.add_argument("--normalization", action="store_true",
                   help="weighted: min-max-centre each run's scores per query before weighting")
    p.add_argument("--rrf-k", type=number(int, lo=0), default=60, help="rrf: the constant k in 1 / (k + rank)")
    p.add_argument("--depth", type=number(int, lo=1), default=1000, help="hits taken from each run per query")
    p.add_argument("--hits", type=number(int, lo=1), default=1000, help="hits per query in the fused run")
    p.add_argument("--output-format", choices=("trec", "msmarco"), default="trec")
    p.add_argument("--run-tag", default="tctcb-fuse", help="TREC run tag (one word)")
    p.add_argument("--quiet", action="store_true", help="no summary line")
    t = p.add_argument_group("choosing the weights on dev runs")
    t.add_argument("--tune-weights-on", metavar="QRELS",
                   help="choose the weights on --dev-runs with these qrels (name, e.g. nfcorpus-dev, or file)")
    t.add_argument("--dev-runs", nargs="+", metavar="RUN",
                   help="the same retrievers as --runs, in the same order, on the dev topics")
    t.add_argument("--weight-grid", metavar="W,W,...",
                   help="values each weight may take (default: 0,0.25,0.5,1,1.5,2,3)")
    t.add_argument("--tune-metric", default="nDCG@10", help="metric the weights are chosen by")
    t.add_argument("--tune-rounds", type=number(int, lo=1), default=3, help="at most this many rounds of coordinate ascent")
    return p


@command
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tctcb.data import DataError
    from tctcb.eval import RunFormatError, read_run, write_run
    from tctcb.fuse._fuse import fuse_runs

    try:
        if len(args.runs) < 2:
            raise ValueError(f"--runs: fusion needs at least 2 run files, got {len(args.runs)}")
        if args.weights is not None and len(args.weights) != len(args.runs):
            raise ValueError(f"--weights: {len(args.weights)} weights for {len(args.runs)} runs")
        if args.normalization and args.method != "weighted":
            raise ValueError("--normalization applies to --method weighted only")
        _check_tuning_args(args)
        runs = [read_run(path) for path in args.runs]
        weights = args.weights
        if args.tune_weights_on:
            weights = _tune(args)
        fused = fuse_runs(runs, method=args.method, weights=weights, depth=args.depth, hits=args.hits,
                          rrf_k=args.rrf_k, normalization=args.normalization)
        write_run(fused, args.output, format=args.output_format, tag=args.run_tag)
    except (RunFormatError, DataError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        seen = Counter(q for run in runs for q in run)
        partial = sum(1 for n in seen.values() if n < len(runs))
        print(f"fused {len(runs)} runs ({args.method}): {len(fused)} queries"
              + (f", {partial} of them missing from some run" if partial else "")
              + f" -> {args.output}", file=sys.stderr)
    return 0


def _check_tuning_args(args: argparse.Namespace) -> None:
    if args.dev_runs is not None and not args.tune_weights_on:
        raise ValueError("--dev-runs only applies with --tune-weights-on QRELS")
    if not args.tune_weights_on:
        for name in ("weight_grid", "tune_rounds", "tune_metric"):
            default = build_parser().get_default(name)
            if getattr(args, name) != default:
                raise ValueError(f"--{name.replace('_', '-')} only applies with --tune-weights-on QRELS")
        return
    if args.weights is not None:
        raise ValueError("--weights and --tune-weights-on exclude each other (the tuning chooses the weights)")
    if args.dev_runs is None:
        raise ValueError("--tune-weights-on needs --dev-runs: one dev run per --runs entry, in the same order")
    if len(args.dev_runs) != len(args.runs):
        raise ValueError(f"--dev-runs: {len(args.dev_runs)} dev runs for {len(args.runs)} runs (one each, same order)")


def _tune(args: argparse.Namespace) -> list[float]:
    from tctcb.eval import parse_metric
    from tctcb.eval import load_qrels
    from tctcb.eval import read_run
    from tctcb.fuse._tune import DEFAULT_WEIGHT_GRID, tune_weights

    grid = DEFAULT_WEIGHT_GRID
    if args.weight_grid is not None:
        try:
            grid = [float(x) for x in args.weight_grid.split(",")]
        except ValueError:
            raise ValueError(f"--weight-grid: comma-separated numbers expected, got {args.weight_grid!r}") from None
    try:
        parse_metric(args.tune_metric)
    except ValueError as e:
        raise ValueError(f"--tune-metric: {e}") from None
    dev_runs = [read_run(path) for path in args.dev_runs]  # a bad file names itself and its line
    qrels = load_qrels(args.tune_weights_on)
    try:
        tuning = tune_weights(dev_runs, qrels, method=args.method, grid=grid, metric=args.tune_metric,
                              rounds=args.tune_rounds, depth=args.depth, hits=args.hits, rrf_k=args.rrf_k,
                              normalization=args.normalization)
    except ValueError as e:
        raise ValueError(f"--tune-weights-on {args.tune_weights_on}: {e}") from None
    shown = " ".join(f"{w:g}" for w in tuning.weights)
    print(f"tuned weights: {shown} ({tuning.metric} {tuning.value:.4f} on {args.tune_weights_on}, "
          f"{tuning.equal:.4f} with equal weights; {tuning.tried} weight vectors tried in {tuning.rounds} rounds"
          + ("" if tuning.converged else ", stopped by --tune-rounds before converging") + ")")
    return tuning.weights
