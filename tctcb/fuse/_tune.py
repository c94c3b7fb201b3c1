"""Choose one fusion weight per run on dev runs: coordinate ascent over a grid, one weight at a time.

What ``--tune-alpha-on`` does for the two-way hybrid, for any number of runs: starting from equal
weights, each run's weight in turn is set to every value of the grid with the others held, and kept at
the value that scores best on the dev qrels; rounds repeat until one changes nothing (or ``rounds`` is
reached).  A change must beat the current weights by more than the tie tolerance (1e-4, below the four
decimals every report shows), and among values within it of the best the first of the grid wins, so a
choice never hangs on float rounding that differs between CPUs.  The test runs are then fused with the
chosen weights: nothing is read from the test qrels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from tctcb.search import TIE_TOLERANCE

__all__ = ["DEFAULT_WEIGHT_GRID", "WeightTuning", "tune_weights"]

DEFAULT_WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


@dataclass
class WeightTuning:
    """The outcome of :func:`tune_weights`."""

    weights: list[float]
    value: float  # the metric on the dev runs fused with ``weights``
    equal: float  # the metric with every weight 1 (the start)
    metric: str
    tried: int  # distinct weight vectors evaluated
    rounds: int  # rounds run
    converged: bool  # the last round changed nothing: no single weight moved along the grid does better
    steps: list[tuple[tuple[float, ...], float]] = field(default_factory=list)  # accepted changes, in order


def _check_grid(grid: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(g) for g in grid)
    if not values:
        raise ValueError("empty weight grid")
    if any(not math.isfinite(g) or g < 0 for g in values):
        raise ValueError(f"weights in the grid must be finite and >= 0, got {list(values)}")
    if not any(g > 0 for g in values):
        raise ValueError(f"the weight grid needs a value > 0, got {list(values)}")
    return values


def tune_weights(dev_runs: Sequence[Mapping[str, Mapping[str, float]]], qrels: Mapping[str, Mapping[str, int]], *,
                 method: str = "rrf", grid: Sequence[float] = DEFAULT_WEIGHT_GRID, metric: str = "nDCG@10",
                 rounds: int = 3, depth: int = 1000, hits: int = 1000, rrf_k: int = 60,
                 normalization: bool = False, tie_tolerance: float = TIE_TOLERANCE) -> WeightTuning:
    """Per-run weights for :func:`tctcb.fuse.fuse_runs` chosen on ``dev_runs`` / ``qrels`` by ``metric``.

    The fusion arguments are those the test runs will be fused with.  Every weight vector keeps at
    least one weight above 0.
    """
    from tctcb.eval import evaluate
    from tctcb.eval import check_run_matches
    from tctcb.fuse._fuse import fuse_prepared, prepare_runs

    if len(dev_runs) < 2:
        raise ValueError(f"tuning fusion weights needs at least 2 runs, got {len(dev_runs)}")
    values = _check_grid(grid)
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if depth < 1 or hits < 1:
        raise ValueError(f"depth and hits must be >= 1 (got depth {depth}, hits {hits})")
    for i, run in enumerate(dev_runs, 1):
        check_run_matches(run, qrels, label=f"dev run {i}")
    prepared = prepare_runs(dev_runs, depth)
    cache: dict[tuple[float, ...], float] = {}

    def score(weights: tuple[float, ...]) -> float:
        if weights not in cache:
            run = fuse_prepared(prepared, method=method, weights=weights, hits=hits, rrf_k=rrf_k,
                                normalization=normalization)
            cache[weights] = evaluate(run, qrels, [metric])[metric]
        return cache[weights]

    current = tuple(1.0 for _ in dev_runs)
    equal = best = score(current)
    steps: list[tuple[tuple[float, ...], float]] = []
    done, changed = 0, True
    for done in range(1, rounds + 1):
        changed = False
        for i in range(len(current)):
            table = []
            for g in values:
                cand = current[:i] + (g,) + current[i + 1:]
                if any(w > 0 for w in cand):
                    table.append((cand, score(cand)))
            top = max(v for _, v in table)
            if top > best + tie_tolerance:
                current, best = next((c, v) for c, v in table if v >= top - tie_tolerance and v > best + tie_tolerance)
                steps.append((current, best))
                changed = True
        if not changed:
            break
    return WeightTuning(weights=list(current), value=best, equal=equal, metric=metric, tried=len(cache),
                        rounds=done, converged=not changed, steps=steps)
