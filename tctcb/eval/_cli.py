"""``python -m tctcb.eval --qrels NAME|FILE --run RUN [-m METRIC ...] [--rel-level N] [--compare RUN_B]``."""
from __future__ import annotations

import argparse
import sys

from tctcb._command import ArgumentParser, command, number
from tctcb.eval._compare import compare_runs
from tctcb.eval._metrics import DEFAULT_METRICS, evaluate
from tctcb.eval._qrels import load_qrels
from tctcb.eval._runs import RunFormatError, read_run

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.eval", description="Evaluate a TREC or MS MARCO run file.")
    p.add_argument("--qrels", required=True, help="qrels name (e.g. nfcorpus-test, cacm) or TREC qrels file")
    p.add_argument("--run", required=True, help="run file (TREC or MS MARCO; format sniffed)")
    p.add_argument("-m", "--metric", action="append", dest="metrics",
                   help=f"ir_measures metric, repeatable (default: {' '.join(DEFAULT_METRICS)})")
    p.add_argument("--rel-level", type=number(int, lo=1), default=None,
                   help="minimum grade counted relevant by binary metrics (TREC DL: 2); nDCG stays graded")
    p.add_argument("--compare", metavar="RUN_B", default=None,
                   help="a second run: print both means, per-query wins/losses/ties of --run against it and the "
                        "two-sided paired randomisation test's p-value")
    p.add_argument("--trials", type=number(int, lo=1), default=None, help="--compare: random sign assignments (default 10000)")
    p.add_argument("--seed", type=number(int, lo=0), default=None, help="--compare: seed of the randomisation test (default 0)")
    return p


def _warn_unjudged(run, qrels, run_name, qrels_name) -> None:
    """One line when most of a run's queries have no judgments: the run and the qrels are likely of different sets."""
    unjudged = sum(1 for q in run if not qrels.get(q))
    if unjudged * 2 > len(run):
        print(f"warning: {unjudged} of the {len(run)} queries in {run_name} have no judgments in {qrels_name} "
              "(a run of another topic set?)", file=sys.stderr)


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tctcb.data import DataError

    if args.compare is None and (args.trials is not None or args.seed is not None):
        print("error: --trials and --seed only apply with --compare RUN_B", file=sys.stderr)
        return 2
    trials = 10_000 if args.trials is None else args.trials
    seed = 0 if args.seed is None else args.seed
    try:
        run = read_run(args.run)
        qrels = load_qrels(args.qrels)
        _warn_unjudged(run, qrels, args.run, args.qrels)
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
        print(f"# A = {args.run}\n# B = {args.compare}\n# {rows[0].queries} queries; "
              f"paired randomisation test, {trials} trials, seed {seed}")
        print("metric\tA\tB\tA-B\twins\tlosses\tties\tp")
        for r in rows:
            print(f"{r.metric}\t{r.mean_a:.4f}\t{r.mean_b:.4f}\t{r.difference:+.4f}\t{r.wins}\t{r.losses}\t{r.ties}\t"
                  f"{r.p_value:.4f}")
        return 0
    for name, value in scores.items():
        print(f"{name}\t{value:.4f}")
    return 0
