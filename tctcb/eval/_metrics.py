"""Metrics in process with ir_measures (trec_eval-compatible numbers, ``str`` ids)."""
from __future__ import annotations

from tctcb._command import UserError

from typing import Iterable, Mapping

__all__ = ["evaluate", "parse_metric", "DEFAULT_METRICS"]

DEFAULT_METRICS = ("nDCG@10", "RR@10", "AP", "R@100", "R@1000")

# Common spellings accepted on the command line and in the regression YAML.
_ALIASES = {"MAP": "AP", "map": "AP", "MRR@10": "RR@10", "ndcg@10": "nDCG@10", "ndcg_cut_10": "nDCG@10",
            "recip_rank": "RR", "P_30": "P@30", "recall_100": "R@100", "recall_1000": "R@1000"}

_GRADED = {"nDCG", "ERR", "Judged"}


class MetricError(UserError, ValueError):
    """An unknown metric, or a run and qrels that cannot be evaluated together."""


def parse_metric(name: str, rel_level: int | None = None):
    """The ir_measures measure for ``name`` (e.g. ``"nDCG@10"``, ``"AP"``/``"MAP"``, ``"R@100"``).

    With ``rel_level``, binary measures count grades >= ``rel_level`` as relevant (TREC DL: 2);
    graded measures (nDCG) are unchanged.
    """
    import ir_measures

    text = _ALIASES.get(name, name)
    try:
        measure = ir_measures.parse_measure(text)
    except Exception as e:  # ir_measures raises several types for bad names
        raise MetricError(f"unknown metric {name!r} (examples: nDCG@10, RR@10, AP, R@100, R@1000, P@30)") from e
    if any(isinstance(v, int) and v < 1 for k, v in measure.params.items() if k == "cutoff"):
        raise MetricError(f"metric {name!r}: the cutoff after @ must be >= 1")
    if rel_level is not None and measure.NAME not in _GRADED and "rel" not in measure.params:
        try:
            measure = measure(rel=int(rel_level))
        except Exception as e:
            raise MetricError(f"metric {name!r} does not take a relevance level") from e
    return measure


def prepare(run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]],
            metrics: Iterable[str], rel_level: int | None = None):
    """``({metric name: ir_measures measure}, run, qrels)`` with ``str`` ids, float scores and int grades.

    Raises ``ValueError`` for no metrics, an unknown metric or empty qrels (shared by ``evaluate`` and
    ``tctcb.eval.per_query``).
    """
    names = list(metrics)
    if not names:
        raise ValueError("no metrics given")
    measures = {name: parse_metric(name, rel_level) for name in names}
    run_s = {str(q): {str(d): float(s) for d, s in hits.items()} for q, hits in run.items()}
    qrels_s = {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in qrels.items()}
    if not qrels_s:
        raise ValueError("empty qrels")
    return measures, run_s, qrels_s


def check_run_matches(run: Mapping[str, object], qrels: Mapping[str, object], label: str = "the run") -> None:
    """Refuse an empty run, or one none of whose queries is judged (wrong topics or qrels)."""
    if not run:
        raise MetricError("empty run" if label == "the run" else f"{label} is empty")
    if not set(map(str, run)) & set(map(str, qrels)):
        raise MetricError(f"no query of {label} is in the qrels (wrong topics or qrels?)")


def evaluate(run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]],
             metrics: Iterable[str] = DEFAULT_METRICS, rel_level: int | None = None) -> dict[str, float]:
    """Mean of each metric over the queries of ``qrels`` (as ``trec_eval -c``, which Pyserini's BEIR
    regressions use: a judged query missing from the run scores 0; run queries without judgements are ignored).

    Returns ``{metric name as given: value}``. ``rel_level`` applies to binary measures only.
    """
    import ir_measures

    measures, run_s, qrels_s = prepare(run, qrels, metrics, rel_level)
    check_run_matches(run_s, qrels_s)
    agg = ir_measures.calc_aggregate(list(set(measures.values())), qrels_s, run_s)
    return {name: float(agg[m]) for name, m in measures.items()}
