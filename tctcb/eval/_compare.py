"""Paired comparison of two runs on the same queries: per-query differences and a randomisation test.

Claims such as "tight coupling beats hard labels by 0.006 nDCG@10" need to say how often the difference
points the same way across queries and how likely it is under chance. The test here is the paired
(sign-flip) randomisation test of Smucker, Allan & Carterette (CIKM 2007): under the null hypothesis the
two systems are exchangeable on each query, so each per-query difference keeps its size and gets a random
sign; the p-value is the share of ``trials`` sign assignments whose mean difference is at least as large in
magnitude as the observed one (two-sided, counting the observed assignment, so it is never 0).

Per-query values follow :func:`tctcb.eval.evaluate`: every query of the qrels counts, a judged query
missing from a run scores 0 (``trec_eval -c``), run queries without judgements are ignored; so the means
reported here equal ``evaluate``'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from tctcb.eval._metrics import DEFAULT_METRICS, check_run_matches, prepare

__all__ = ["Comparison", "per_query", "randomization_test", "compare_runs", "compare_values"]

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Comparison:
    """One metric of a paired comparison of run A against run B."""

    metric: str
    queries: int
    mean_a: float
    mean_b: float
    wins: int     # queries where A > B
    losses: int   # queries where A < B
    ties: int
    p_value: float
    trials: int

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b


def per_query(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS,
              rel_level: int | None = None) -> dict[str, dict[str, float]]:
    """``{metric: {query id: value}}`` over every query of ``qrels`` (0 where the run has no hits for it)."""
    import ir_measures

    measures, run_s, qrels_s = prepare(run, qrels, metrics, rel_level)
    out = {name: {q: 0.0 for q in qrels_s} for name in measures}
    by_measure = {}
    for name, m in measures.items():
        by_measure.setdefault(m, []).append(name)
    run_judged = {q: hits for q, hits in run_s.items() if q in qrels_s}
    if run_judged:
        for r in ir_measures.iter_calc(list(by_measure), qrels_s, run_judged):
            for name in by_measure[r.measure]:
                out[name][str(r.query_id)] = float(r.value)
    return out


def randomization_test(a: np.ndarray, b: np.ndarray, trials: int = 10_000, seed: int = 0,
                       chunk: int = 1_000) -> float:
    """Two-sided paired randomisation (sign-flip) test of mean(a - b) = 0; returns the p-value.

    ``p = (1 + #{trials with |mean of sign-flipped differences| >= |observed|}) / (1 + trials)``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-d arrays of the same length, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("no queries to compare")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    d = a - b
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    hits = 0
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    for start in range(0, trials, chunk):
        n = min(chunk, trials - start)
        signs = rng.integers(0, 2, size=(n, d.size), dtype=np.int8) * 2 - 1
        means = np.abs(signs @ d) / d.size
        hits += int((means >= observed - tol).sum())
    return (hits + 1) / (trials + 1)


def compare_runs(run_a: Run, run_b: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS,
                 rel_level: int | None = None, trials: int = 10_000, seed: int = 0) -> list[Comparison]:
    """Compare run A with run B on every query of ``qrels``, one :class:`Comparison` per metric."""
    names = list(metrics)
    check_run_matches(run_a, qrels, "run A")
    check_run_matches(run_b, qrels, "run B")
    pa = per_query(run_a, qrels, names, rel_level)
    pb = per_query(run_b, qrels, names, rel_level)
    return [compare_values(name, pa[name], pb[name], trials=trials, seed=seed) for name in names]


def compare_values(metric: str, a: Mapping[str, float], b: Mapping[str, float], trials: int = 10_000,
                   seed: int = 0) -> Comparison:
    """One :class:`Comparison` from per-query values ``{query id: value}`` of A and B on the same queries.

    Queries are taken in sorted id order (the randomisation test's sign assignments follow that order), so
    :func:`compare_runs` and :func:`tctcb.eval.experiment` give the same p-value for the same values.
    """
    if set(a) != set(b):
        raise ValueError(f"{metric}: A and B are measured on different queries")
    qids = sorted(a)
    va = np.array([a[q] for q in qids], dtype=np.float64)
    vb = np.array([b[q] for q in qids], dtype=np.float64)
    return Comparison(metric=metric, queries=len(qids), mean_a=float(va.mean()), mean_b=float(vb.mean()),
                      wins=int((va > vb).sum()), losses=int((va < vb).sum()), ties=int((va == vb).sum()),
                      p_value=randomization_test(va, vb, trials=trials, seed=seed), trials=trials)
