"""Many runs, one table: ``experiment(runs, qrels, metrics, baseline=None, per_query=False) -> pandas.DataFrame``.

The shape of PyTerrier's ``pt.Experiment``: one row per system (a ``name`` column), one column per metric and,
with a baseline, ``<metric> +`` / ``<metric> -`` (queries where the system beats / trails the baseline) and
``<metric> p-value`` per metric, empty on the baseline's own row. ``per_query=True`` gives the long frame
``name, qid, measure, value``.

One evaluation path: each run's per-query values come from :func:`tctcb.eval.per_query` once; the means are
taken from them (equal to :func:`tctcb.eval.evaluate`'s: every judged query counts, 0 where a run has no hits)
and the p-values from :func:`tctcb.eval.randomization_test` with the trials and seed of
``python -m tctcb.eval --compare`` (10,000 and 0 unless given), on queries in the same order, so they equal
``--compare``'s.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from tctcb._command import UserError
from tctcb.eval._compare import compare_values, per_query as _per_query
from tctcb.eval._metrics import DEFAULT_METRICS, check_run_matches, parse_metric
from tctcb.eval._qrels import load_qrels
from tctcb.eval._runs import read_run

__all__ = ["ExperimentError", "experiment"]


class ExperimentError(UserError, ValueError):
    """Runs, names or a baseline that ``experiment`` cannot use; the message says which."""


def _named_runs(runs) -> dict[str, object]:
    """``{name: path or run}``: a mapping as given, or a list of paths named by file stem."""
    if isinstance(runs, Mapping):
        named = {str(k): v for k, v in runs.items()}
        if len(named) != len(runs):
            raise ExperimentError(f"system names collide once written as text: {list(runs)}")
    elif isinstance(runs, (str, os.PathLike)):
        raise ExperimentError(f"runs must be several: a dict {{name: path or run}} or a list of paths, got {runs!r} "
                              "(wrap one run as [path])")
    else:
        named = {}
        for r in runs:
            if not isinstance(r, (str, os.PathLike)):
                raise ExperimentError("a list of runs must hold run file paths (named by file stem); give in-memory "
                                      "runs as a dict {name: run}")
            name = Path(r).stem
            if name in named:
                raise ExperimentError(f"two run files are named {name!r} by their stem ({named[name]}, {r}): "
                                      "give a dict {name: path} instead")
            named[name] = r
    if not named:
        raise ExperimentError("no runs given")
    return named


def _load_run(name: str, value) -> Mapping[str, Mapping[str, float]]:
    if isinstance(value, (str, os.PathLike)):
        return read_run(value)  # RunFormatError (a UserError) names the file and line
    if isinstance(value, Mapping):
        return value
    raise ExperimentError(f"run {name!r}: expected a run file path or a dict {{qid: {{docid: score}}}}, "
                          f"got {type(value).__name__}")


def _baseline_name(baseline, names: list[str]) -> str | None:
    if baseline is None:
        return None
    if isinstance(baseline, (int, np.integer)) and not isinstance(baseline, bool):
        if not -len(names) <= baseline < len(names):
            raise ExperimentError(f"baseline index {baseline} is out of range for {len(names)} runs")
        return names[baseline]
    if str(baseline) not in names:
        raise ExperimentError(f"baseline {baseline!r} is not one of the runs: {', '.join(names)}")
    return str(baseline)


def experiment(runs, qrels, metrics: Iterable[str] = DEFAULT_METRICS, baseline: str | int | None = None,
               per_query: bool = False, *, rel_level: int | None = None, trials: int = 10_000, seed: int = 0):
    """Evaluate several runs on the same qrels; returns a ``pandas.DataFrame``.

    ``runs``: ``{name: run file path or run dict}`` (rows keep this order), or a list of run file paths named by
    their file stem. ``qrels``: a dict ``{qid: {docid: grade}}``, a qrels file, or a name such as
    ``nfcorpus-test``. ``metrics``: names as ``python -m tctcb.eval -m`` takes them (``nDCG@10``, ``MAP``,
    ``R@100``, ...); columns carry the names as given. ``baseline``: a system name (or its position) to test
    every other system against: adds ``<metric> +``, ``<metric> -`` and ``<metric> p-value`` columns (paired
    randomisation test, two-sided, ``trials`` sign assignments from ``seed``). ``rel_level``: binary metrics
    count grades >= it as relevant (TREC DL: 2).

    ``per_query=True`` returns the long frame ``name, qid, measure, value`` (every judged query, sorted by
    id, per system and metric) instead; a baseline is then only checked.

    The frame's ``attrs`` record ``queries``, and with a baseline ``baseline``, ``test``, ``trials``, ``seed``.

    >>> qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    >>> runs = {"a": {"q1": {"d1": 2.0, "d2": 1.0}, "q2": {"d1": 2.0, "d2": 1.0}},
    ...         "b": {"q1": {"d2": 2.0, "d1": 1.0}, "q2": {"d2": 2.0, "d1": 1.0}}}
    >>> experiment(runs, qrels, ["RR@10"], baseline="a", trials=100)
      name  RR@10  RR@10 +  RR@10 -  RR@10 p-value
    0    a   0.75     <NA>     <NA>            NaN
    1    b   0.75        1        1            1.0
    """
    import pandas as pd

    names_m = list(metrics)
    if isinstance(metrics, str) or not names_m:
        raise ExperimentError("metrics must be a non-empty list of names, e.g. ['nDCG@10', 'R@100']")
    for m in names_m:
        parse_metric(m, rel_level)  # MetricError names an unknown metric before any run is read
    if len(set(names_m)) != len(names_m):
        raise ExperimentError(f"a metric is listed twice: {names_m}")
    named = _named_runs(runs)
    names = list(named)
    base = _baseline_name(baseline, names)
    if isinstance(qrels, (str, os.PathLike)):
        qrels = load_qrels(qrels)
    values: dict[str, dict[str, dict[str, float]]] = {}
    for name, value in named.items():
        run = _load_run(name, value)
        check_run_matches(run, qrels, f"run {name!r}")
        values[name] = _per_query(run, qrels, names_m, rel_level)
    qids = sorted(next(iter(values.values()))[names_m[0]])

    if per_query:
        rows = [(name, q, m, values[name][m][q]) for name in names for q in qids for m in names_m]
        frame = pd.DataFrame(rows, columns=["name", "qid", "measure", "value"])
        frame.attrs["queries"] = len(qids)
        return frame

    table: dict[str, list] = {"name": names}
    for m in names_m:
        table[m] = [float(np.mean([values[name][m][q] for q in qids])) for name in names]
    frame = pd.DataFrame(table)
    frame.attrs["queries"] = len(qids)
    if base is not None:
        for m in names_m:
            cmp = {name: compare_values(m, values[name][m], values[base][m], trials=trials, seed=seed)
                   for name in names if name != base}
            frame[f"{m} +"] = pd.array([cmp[n].wins if n in cmp else None for n in names], dtype="Int64")
            frame[f"{m} -"] = pd.array([cmp[n].losses if n in cmp else None for n in names], dtype="Int64")
            frame[f"{m} p-value"] = [cmp[n].p_value if n in cmp else np.nan for n in names]
        frame.attrs.update(baseline=base, test="paired randomisation (sign-flip), two-sided", trials=trials,
                           seed=seed)
    return frame
