"""``python -m tctcb.pipeline``: run a regression's conditions in order, then print the table,
write the TREC run files, a Markdown/JSON report and the effectiveness-vs-latency plot."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from tctcb._command import ArgumentParser, UserError, command, number
from tctcb.pipeline._report import (SystemRow, format_significance, format_table, plot_effectiveness, write_json,
                                    write_markdown)

__all__ = ["main", "DEFAULT_REGRESSION"]

DEFAULT_REGRESSION = "main"


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m tctcb.pipeline",
        description="The whole TCT-ColBERT pipeline on one collection (the conditions of a regression YAML): "
                    "train the ColBERT teacher, distil the student, encode, index, search, fuse, evaluate.")
    p.add_argument("--regression", default=DEFAULT_REGRESSION,
                   help=f"regression to run (resources/regressions/NAME.yaml; default {DEFAULT_REGRESSION})")
    p.add_argument("--regressions-dir", help="folder of regression YAML files (default: resources/regressions)")
    p.add_argument("--condition", action="append", help="run only this condition (repeatable)")
    p.add_argument("--collection", help="run the conditions on this registered collection instead (a dataset added "
                   "with 'python -m tctcb.data add' that has train, dev and test splits); its scores are reported, "
                   "not checked against the YAML's")
    p.add_argument("--max-steps", type=number(int, lo=1), help="training steps of the teacher and the student (default: the YAML's)")
    p.add_argument("--output", default=None, help="folder for run files, report and plot (default: runs/NAME)")
    p.add_argument("--data-dir", help="data directory (default: $TCTCB_DATA)")
    p.add_argument("--cache-dir", help="cache for derived files: indexes, checkpoints (default: $TCTCB_CACHE)")
    p.add_argument("--metric", default="nDCG@10", help="metric on the plot's y axis (default nDCG@10)")
    p.add_argument("--baseline", metavar="CONDITION", default=None,
                   help="condition every other is tested against in results.md (paired randomisation test, as "
                        "'python -m tctcb.eval --compare'; default: the first condition run)")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    return p


def _builtin_collections() -> set[str]:
    from tctcb.data import load_registry, list_collections

    return set(list_collections()) - set(load_registry())


def _stats(run_path: Path) -> dict:
    side = run_path.with_name(run_path.name + ".stats.json")
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError):
        return {}


def _retarget(reg, args):
    """The regression with ``--collection`` / ``--max-steps`` put into its vars (``collection``, ``work``,
    ``steps``), under the name ``REGRESSION.COLLECTION`` so its run files do not overwrite the default's."""
    from dataclasses import replace

    from tctcb.reproduce import RegressionError

    if not (args.collection or args.max_steps):
        return reg
    if args.max_steps is not None and args.max_steps < 1:
        raise RegressionError(f"--max-steps must be >= 1, got {args.max_steps}")
    override = {}
    if args.collection:
        from tctcb.data import DataError, get_collection, list_topic_sets

        try:
            get_collection(args.collection)
        except DataError as e:
            raise RegressionError(str(e)) from None
        missing = [f"{args.collection}-{s}" for s in ("train", "dev", "test")
                   if f"{args.collection}-{s}" not in list_topic_sets()]
        if missing:
            raise RegressionError(f"--collection {args.collection}: the pipeline needs train, dev and test splits; "
                                  f"missing topic set(s) {', '.join(missing)}")
        override.update(collection=args.collection, work="{cache}/pipeline/" + args.collection)
    if args.max_steps:
        override["steps"] = str(args.max_steps)
    conds = []
    for c in reg.conditions:
        unknown = set(override) - set(c.vars)
        if unknown:
            raise RegressionError(f"{reg.name}: condition {c.name} has no var(s) {sorted(unknown)} to set "
                                  "(--collection / --max-steps work with regressions written for them, like main)")
        conds.append(replace(c, vars={**c.vars, **override}))
    tag = ".".join(x for x in (args.collection, f"steps{args.max_steps}" if args.max_steps else "") if x)
    return replace(reg, name=f"{reg.name}.{tag}", title=f"{reg.title} -- on {tag}", conditions=tuple(conds))


def _against_baseline(reg, done, baseline: str | None):
    """:func:`tctcb.eval.experiment` over the finished conditions' run files with ``baseline`` (default: the first),
    or None with a note when there is nothing to compare (fewer than two run files, or conditions judged with
    different qrels or relevance levels)."""
    from tctcb.eval import experiment
    from tctcb.reproduce import condition_qrels

    have = [(c, r) for c, r in done if r.run_file and not r.error]
    if len(have) < 2:
        return None
    baseline = baseline or have[0][1].name
    if baseline not in [r.name for _, r in have]:
        print(f"note: no significance tests in the report: the baseline {baseline} has no scored run file",
              file=sys.stderr)
        return None
    judged = {(condition_qrels(reg, c), c.rel_level) for c, _ in have}
    if len(judged) > 1:
        print("note: no significance tests in the report: the conditions are judged with different qrels or "
              "relevance levels", file=sys.stderr)
        return None
    (qrels, rel_level), = judged
    metrics = list(dict.fromkeys(e.metric for c, _ in have for e in c.scores))
    runs = {r.name: r.run_file for _, r in have}
    try:
        return experiment(runs, qrels, metrics, baseline=baseline, rel_level=rel_level)
    except (UserError, ValueError, OSError) as e:  # the report is written all the same
        print(f"note: no significance tests in the report: {e}", file=sys.stderr)
        return None


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.data_dir:
        os.environ["TCTCB_DATA"] = args.data_dir
    if args.cache_dir:
        os.environ["TCTCB_CACHE"] = args.cache_dir
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # timings swing 3x otherwise

    from tctcb.reproduce import (RegressionError, condition_paths, load_regression, plan_conditions, print_commands,
                                 run_condition)

    try:
        reg = load_regression(args.regression, args.regressions_dir)
        reg = _retarget(reg, args)
        conds = [c for _, c in plan_conditions([reg], args.condition)]
        if args.baseline is not None and args.baseline not in [c.name for c in conds]:
            raise RegressionError(f"--baseline {args.baseline}: not a condition of this run "
                                  f"({', '.join(c.name for c in conds)})")
    except RegressionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    offline = [c for c in conds if c.offline]
    if len(offline) < len(conds):
        print("note: skipping conditions that need the internet: "
              + ", ".join(c.name for c in conds if not c.offline), file=sys.stderr)
    if args.dry_run:
        print_commands([(reg, c) for c in offline])
        return 0
    if not args.collection or args.collection in _builtin_collections():
        try:
            from tctcb.data import data_dir

            data_dir()
        except Exception as e:  # a missing data directory is the user's first stumble: say it once
            print(f"error: {e}", file=sys.stderr)
            return 2

    out = Path(args.output or Path("runs") / reg.name)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[SystemRow] = []
    t_all = time.perf_counter()
    for i, cond in enumerate(offline, 1):
        print(f"[{i}/{len(offline)}] {cond.name}: {cond.description.strip()}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results = run_condition(reg, cond, stream=sys.stderr)
        wall = time.perf_counter() - t0
        run_path = condition_paths(reg, cond)["run"]
        error = next((r.error for r in results if r.error), "")
        checked = not (args.collection or args.max_steps)  # the YAML's expected scores hold for its own settings only
        row = SystemRow(cond.name, cond.description.strip(), wall_s=wall,
                        scores={r.metric: r.measured for r in results},
                        expected={r.metric: r.expected for r in results} if checked else {},
                        ok=(all(r.ok for r in results) if checked else not error),
                        failed=[r.metric for r in results if not r.ok] if checked else [], error=error)
        if run_path.is_file():
            dest = out / f"{cond.name}.trec"
            shutil.copyfile(run_path, dest)
            row.run_file = str(dest)
            st = _stats(run_path)
            if st.get("queries") and st.get("search_seconds") is not None:
                row.latency_ms = 1000.0 * st["search_seconds"] / st["queries"]
        rows.append(row)
        status = "OK" if row.ok else f"FAIL {row.error}".strip()
        print(f"[{i}/{len(offline)}] {cond.name} done in {wall:.0f} s: "
              + ", ".join(f"{m} {v:.4f}" for m, v in row.scores.items() if v is not None) + f" ({status})",
              file=sys.stderr, flush=True)

    title = f"{reg.title} ({time.perf_counter() - t_all:.0f} s in all)"
    print(f"\n# {title}")
    print(format_table(rows))
    significance = _against_baseline(reg, list(zip(offline, rows)), args.baseline)
    if significance is not None:
        print(f"\n# against {significance.attrs['baseline']} ({significance.attrs['queries']} queries; "
              f"paired randomisation test, p-value)")
        print(format_significance(significance))
    md = write_markdown(rows, out / "results.md", title, significance)
    write_json(rows, out / "results.json")
    png = plot_effectiveness(rows, out / "effectiveness-vs-latency.png", args.metric, reg.title)
    print(f"\nrun files, {md.name}, results.json" + (f" and {png.name}" if png else "") + f" in {out}")
    failed = [r.name for r in rows if not r.ok]
    if failed:
        print("FAIL: " + ", ".join(failed) + " (scores off the regression YAML, or errors above)", file=sys.stderr)
        return 1
    return 0
