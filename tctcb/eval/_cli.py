"""``python -m tctcb.eval --qrels NAME|FILE --run RUN [-m METRIC ...] [--rel-level N] [--compare RUN_B]``; several
``--run`` give one table (:func:`tctcb.eval.experiment`), ``--baseline RUN`` adds wins/losses and p-values."""
from __future__ import annotations

import argparse
import sys

from tctcb._command import ArgumentParser, command, number
from tctcb.eval._compare import compare_runs
from tctcb.eval._experiment import ExperimentError, _named_runs, experiment
from tctcb.eval._metrics import DEFAULT_METRICS, evaluate
from tctcb.eval._qrels import load_qrels
from tctcb.eval._runs import RunFormatError, read_run
from tctcb.eval._table import to_markdown, to_text

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.eval", description="Evaluate a TREC or MS MARCO run file.")
    p.add_argument("--qrels", required=True, help="qrels name (e.g. nfcorpus-test, cacm) or TREC qrels file")
    p.add_argument("--run", required=True, action="append", dest="runs", metavar="RUN",
                   help="run file (TREC or MS MARCO; format sniffed); repeat it for a table of several runs, one row "
                        "each, named by file stem")
    p.add_argument("-m", "--metric", action="append", dest="metrics",
                   help=f"ir_measures metric, repeatable (default: {' '.join(DEFAULT_METRICS)})")
    p.add_argument("--rel-level", type=number(int, lo=1), default=None,
                   help="minimum grade counted relevant by binary metrics (TREC DL: 2); nDCG stays graded")
    p.add_argument("--compare", metavar="RUN_B", default=None,
                   help="a second run: print both means, per-query wins/losses/ties of --run against it and the "
                        "two-sided paired randomisation test's p-value")
    p.add_argument("--baseline", metavar="RUN", default=None,
                   help="several --run: test every run against this one (one of the --run files, or its name): "
                        "'<metric> +' / '<metric> -' (queries won / lost against it) and '<metric> p-value', the "
                        "same test as --compare")
    p.add_argument("--format", choices=("text", "markdown", "csv"), default="text",
                   help="several --run: how the table is printed (default text)")
    p.add_argument("--trials", type=number(int, lo=1), default=None,
                   help="--compare/--baseline: random sign assignments (default 10000)")
    p.add_argument("--seed", type=number(int, lo=0), default=None,
                   help="--compare/--baseline: seed of the randomisation test (default 0)")
    return p


def _warn_unjudged(run, qrels, run_name, qrels_name) -> None:
    """One line when most of a run's queries have no judgments: the run and the qrels are likely of different sets."""
    unjudged = sum(1 for q in run if not qrels.get(q))
    if unjudged * 2 > len(run):
        print(f"warning: {unjudged} of the {len(run)} queries in {run_name} have no judgments in {qrels_name} "
              "(a run of another topic set?)", file=sys.stderr)


def _table(args, qrels, trials: int, seed: int) -> int:
    """Several runs: one row each (named by file stem), printed as text, Markdown or CSV."""
    from pathlib import Path

    named = _named_runs(args.runs)
    baseline = args.baseline
    if baseline is not None:
        by_file = {str(path): name for name, path in named.items()}
        baseline = by_file.get(baseline, by_file.get(str(Path(baseline)), baseline))
        if baseline not in named:
            raise ExperimentError(f"--baseline {args.baseline}: not one of the --run files or their names "
                                  f"({', '.join(named)})")
    runs = {}
    for name, path in named.items():
        runs[name] = read_run(path)
        _warn_unjudged(runs[name], qrels, path, args.qrels)
    frame = experiment(runs, qrels, args.metrics or DEFAULT_METRICS, baseline=baseline, rel_level=args.rel_level,
                       trials=trials, seed=seed)
    if baseline is not None:
        print(f"# {frame.attrs['queries']} queries; against {baseline}: paired randomisation test, {trials} trials, "
              f"seed {seed}")
    if args.format == "csv":
        print(frame.to_csv(index=False), end="")
    elif args.format == "markdown":
        print(to_markdown(frame), end="")
    else:
        print(to_text(frame))
    return 0


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tctcb.data import DataError

    several = len(args.runs) > 1
    if several and args.compare is not None:
        print("error: --compare RUN_B compares one --run; with several, use --baseline RUN", file=sys.stderr)
        return 2
    if not several and (args.baseline is not None or args.format != "text"):
        print("error: --baseline and --format apply to several --run files (give two or more)", file=sys.stderr)
        return 2
    if args.compare is None and args.baseline is None and (args.trials is not None or args.seed is not None):
        print("error: --trials and --seed only apply with --compare RUN_B or --baseline RUN", file=sys.stderr)
        return 2
    trials = 10_000 if args.trials is None else args.trials
    seed = 0 if args.seed is None else args.seed
    try:
        qrels = load_qrels(args.qrels)
        if several:
            return _table(args, qrels, trials, seed)
        run = read_run(args.runs[0])
        _warn_unjudged(run, qrels, args.runs[0], args.qrels)
        if args.compare is not None:
            other = read_run(args.compare)
            rows = compare_runs(run, other, qrels, args.metrics or DEFAULT_METRICS, rel_level=args.rel_level,
                                trials=trials, seed=seed)
        else:
            scores = evaluate(run, qrels, args.metrics or DEFAULT_METRICS, rel_level=args.rel_level)
    except (RunFormatError, DataError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.compare is not None:
        print(f"# A = {args.runs[0]}\n# B = {args.compare}\n# {rows[0].queries} queries; "
              f"paired randomisation test, {trials} trials, seed {seed}")
        print("metric\tA\tB\tA-B\twins\tlosses\tties\tp")
        for r in rows:
            print(f"{r.metric}\t{r.mean_a:.4f}\t{r.mean_b:.4f}\t{r.difference:+.4f}\t{r.wins}\t{r.losses}\t{r.ties}\t"
                  f"{r.p_value:.4f}")
        return 0
    for name, value in scores.items():
        print(f"{name}\t{value:.4f}")
    return 0
