"""Report a pipeline run: one row per system, one column per metric, plus query latency."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tctcb._atomic import atomic_open, write_text
from tctcb.eval import to_markdown, to_text

__all__ = ["SystemRow", "format_significance", "format_table", "results_frame", "write_markdown", "write_json",
           "plot_effectiveness"]


@dataclass
class SystemRow:
    """One system of the report. ``scores`` maps metric -> measured (None when it could not be
    measured); ``expected`` maps metric -> expected score from the regression YAML; ``ok`` is
    False when any score is missing or off beyond its tolerance."""

    name: str
    description: str = ""
    scores: dict[str, float | None] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    ok: bool = True
    failed: list[str] = field(default_factory=list)  # metrics missing or off beyond tolerance
    latency_ms: float | None = None   # mean query latency (encode + search), from the search stats
    wall_s: float = 0.0               # wall time of the whole condition (training included)
    run_file: str | None = None
    error: str = ""


def _metrics(rows: list[SystemRow]) -> list[str]:
    seen: list[str] = []
    for r in rows:
        for m in list(r.scores) + list(r.expected):
            if m not in seen:
                seen.append(m)
    return seen


def results_frame(rows: list[SystemRow]):
    """The report as a ``pandas.DataFrame``: ``system``, one float column per metric (NaN where not measured),
    ``ms/query``, ``wall s`` and ``check`` (OK/FAIL)."""
    import pandas as pd

    metrics = _metrics(rows)
    nan = float("nan")
    data = [[r.name, *(nan if r.scores.get(m) is None else float(r.scores[m]) for m in metrics),
             nan if r.latency_ms is None else float(r.latency_ms), float(r.wall_s), "OK" if r.ok else "FAIL"]
            for r in rows]
    frame = pd.DataFrame(data, columns=["system", *metrics, "ms/query", "wall s", "check"])
    return frame.astype({c: float for c in [*metrics, "ms/query", "wall s"]})


def _render(rows: list[SystemRow], render) -> str:
    # "*" marks a score off its expected value (or missing); "-" a score not measured.
    marks = {(i, m): "*" for i, r in enumerate(rows) for m in r.failed if r.scores.get(m) is not None}
    return render(results_frame(rows), formats={"ms/query": ".1f", "wall s": ".0f"}, missing="-", marks=marks)


def format_table(rows: list[SystemRow]) -> str:
    """A plain-text table (system x metric); ``*`` marks a score off its expected value."""
    return _render(rows, to_text)


def _by_metric(frame):
    """:func:`tctcb.eval.experiment`'s columns regrouped per metric: ``name``, then ``m``, ``m +``, ``m -``,
    ``m p-value`` for each metric."""
    metrics = [c for c in frame.columns if c != "name" and not c.endswith((" +", " -", " p-value"))]
    return frame[["name", *(c for m in metrics for c in (m, f"{m} +", f"{m} -", f"{m} p-value"))]]


def format_significance(frame) -> str:
    """:func:`tctcb.eval.experiment`'s frame with a baseline as plain text, grouped per metric."""
    return to_text(_by_metric(frame))


def write_markdown(rows: list[SystemRow], path: Path, title: str = "", significance=None) -> Path:
    """``results.md``: the table and, given :func:`tctcb.eval.experiment`'s frame with a baseline, a section with
    each system's wins/losses and the paired randomisation test's p-value against it."""
    text = (f"# {title}\n\n" if title else "") + _render(rows, to_markdown)
    if significance is not None:
        a = significance.attrs
        text += (f"\n## Against {a['baseline']}\n\n{a['queries']} queries; `<metric> +` / `<metric> -`: queries "
                 f"where the system scores higher / lower than {a['baseline']}; p-value: {a['test']} test, "
                 f"{a['trials']} trials, seed {a['seed']} (as `python -m tctcb.eval --compare`).\n\n"
                 + to_markdown(_by_metric(significance), missing="-"))
    write_text(path, text)
    return path


def write_json(rows: list[SystemRow], path: Path) -> Path:
    write_text(path, json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return path


def plot_effectiveness(rows: list[SystemRow], path: Path, metric: str = "nDCG@10", title: str = "") -> Path | None:
    """Scatter of ``metric`` against mean query latency (log scale), one labelled point per system
    that has both. Returns the PNG path, or None when no system has both numbers."""
    pts = [(r.latency_ms, r.scores.get(metric), r.name) for r in rows]
    pts = [(x, y, n) for x, y, n in pts if x is not None and y is not None and x > 0]
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for x, y, name in pts:
        ax.scatter([x], [y], s=40)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels on a log axis overlap
    ax.set_xlabel("query latency, ms per query (encode + search, batch), log scale")
    ax.set_ylabel(metric)
    ax.grid(True, which="both", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return path
