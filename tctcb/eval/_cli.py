"""``python -m tctcb.eval --qrels NAME|FILE --run RUN [-m METRIC ...] [--rel-level N]``."""
from __future__ import annotations

import argparse
import sys

from tctcb.eval._metrics import DEFAULT_METRICS, evaluate
from tctcb.eval._qrels import load_qrels
from tctcb.eval._runs import RunFormatError, read_run

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tctcb.eval", description="Evaluate a TREC or MS MARCO run file.")
    p.add_argument("--qrels", required=True, help="qrels name (e.g. nfcorpus-test, cacm) or TREC qrels file")
    p.add_argument("--run", required=True, help="run file (TREC or MS MARCO; format sniffed)")
    p.add_argument("-m", "--metric", action="append", dest="metrics",
                   help=f"ir_measures metric, repeatable (default: {' '.join(DEFAULT_METRICS)})")
    p.add_argument("--rel-level", type=int, default=None,
                   help="minimum grade counted relevant by binary metrics (TREC DL: 2); nDCG stays graded")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tctcb.data import DataError

    try:
        run = read_run(args.run)
        qrels = load_qrels(args.qrels)
        scores = evaluate(run, qrels, args.metrics or DEFAULT_METRICS, rel_level=args.rel_level)
    except (RunFormatError, DataError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, value in scores.items():
        print(f"{name}\t{value:.4f}")
    return 0
