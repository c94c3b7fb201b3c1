"""``python -m tctcb.reproduce --list | NAME [NAME ...] [--condition C] [--dry-run] | --write-docs | --check-docs``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tctcb._command import ArgumentParser, command
from tctcb.reproduce._docs import stale_docs, write_docs
from tctcb.reproduce._runner import format_result, plan_conditions, print_commands, run_condition
from tctcb.reproduce._schema import RegressionError, archive_dir, list_regressions, load_regression

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.reproduce",
                                description="Run regressions from resources/regressions/*.yaml and compare scores.")
    p.add_argument("names", nargs="*", metavar="NAME", help="regression(s) to run")
    p.add_argument("--list", action="store_true", help="list regressions and their conditions")
    p.add_argument("--condition", action="append", help="run only this condition (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    p.add_argument("--online", action="store_true", help="also run conditions that need the internet")
    p.add_argument("--write-docs", action="store_true", help="regenerate docs/regressions/*.md from the YAML")
    p.add_argument("--check-docs", action="store_true", help="exit 1 if a doc in docs/regressions is stale")
    p.add_argument("--regressions-dir", help="folder of regression YAML files (default: resources/regressions; "
                                             "resources/regressions/archive holds the archived exploratory runs)")
    return p


@command
def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    d = args.regressions_dir
    if (args.write_docs or args.check_docs) and d and Path(d).resolve() == archive_dir().resolve():
        print("error: archived regressions have no generated pages (docs/regressions/ is the matrix's); "
              "use --list or NAME --dry-run with this --regressions-dir", file=sys.stderr)
        return 2
    try:
        if args.write_docs:
            for path in write_docs(d):
                print(f"wrote {path}")
            return 0
        if args.check_docs:
            stale = stale_docs(d)
            for name in stale:
                print(f"stale: docs/regressions/{name}.md (run python -m tctcb.reproduce --write-docs)", file=sys.stderr)
            return 1 if stale else 0
        if args.list:
            for name in list_regressions(d):
                reg = load_regression(name, d)
                print(f"{name}: {reg.title}")
                for c in reg.conditions:
                    metrics = ", ".join(f"{e.metric} {e.expected:.4f}" for e in c.scores)
                    print(f"  {c.name}{'' if c.offline else ' (online)'}: {metrics}")
            return 0
        if not args.names:
            p.print_usage(sys.stderr)
            print("error: give a regression NAME, --list, --write-docs or --check-docs", file=sys.stderr)
            return 2
        regs = [load_regression(n, d) for n in args.names]
        plan = plan_conditions(regs, args.condition)
    except RegressionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print_commands(plan)
        return 0
    online = [(r, c) for r, c in plan if not c.offline]
    if online and not args.online:
        names = ", ".join(f"{r.name}/{c.name}" for r, c in online)
        if len(online) == len(plan):
            print(f"error: {names} need(s) the internet (castorini checkpoints, Pyserini prebuilt indexes); "
                  "pass --online to run, or --dry-run to see the commands", file=sys.stderr)
            return 2
        print(f"note: skipping {names} (need the internet; pass --online)", file=sys.stderr)
        plan = [(r, c) for r, c in plan if c.offline]
    failed = 0
    header = None
    stopped = None  # the online condition that could not run; later online ones are not tried
    for i, (reg, cond) in enumerate(plan):
        if stopped is not None and not cond.offline:
            failed += len(cond.scores)
            continue
        if reg.name != header:
            print(f"# {reg.name}: {reg.title}", flush=True)
            header = reg.name
        results = run_condition(reg, cond)
        for r in results:
            print(format_result(r), flush=True)
        if results and results[0].error:
            print(f"{reg.name}/{cond.name}: {results[0].error}", file=sys.stderr)
        failed += sum(not r.ok for r in results)
        if not cond.offline and results and results[0].error:
            # An online condition that could not even run: the rest need the same downloads, so stop trying
            # them instead of failing each the same way (offline machine, firewall, moved URL).
            rest = [f"{r.name}/{c.name}" for r, c in plan[i + 1:] if not c.offline]
            if rest:
                stopped = cond
                print(f"stopping: {reg.name}/{cond.name} could not run, so the {len(rest)} remaining online "
                      f"condition(s) were not tried ({', '.join(rest)}); check the internet connection, or point "
                      "the commands at local copies (docs/msmarco.md)", file=sys.stderr)
    if failed:
        print(f"{failed} FAIL", file=sys.stderr)
        return 1
    return 3 if online and not args.online else 0
