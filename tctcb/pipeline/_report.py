"""Report a pipeline run: one row per system, one column per metric, plus query latency."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tctcb._atomic import atomic_open, write_text

__all__ = ["SystemRow", "format_table", "write_markdown", "write_json", "plot_effectiveness"]


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


def _cell(r: SystemRow, m: str) -> str:
    if m not in r.expected and m not in r.scores:
        return ""
    v = r.scores.get(m)
    if v is None:
        return "-"
    return f"{v:.4f}{'*' if m in r.failed else ''}"


def _rows_as_cells(rows: list[SystemRow]) -> tuple[list[str], list[list[str]]]:
    metrics = _metrics(rows)
    head = ["system", *metrics, "ms/query", "wall s", "check"]
    body = []
    for r in rows:
        lat = "-" if r.latency_ms is None else f"{r.latency_ms:.1f}"
        body.append([r.name, *(_cell(r, m) for m in metrics), lat, f"{r.wall_s:.0f}", "OK" if r.ok else "FAIL"])
    return head, body


def format_table(rows: list[SystemRow]) -> str:
    """A plain-text table (system x metric); ``*`` marks a score off its expected value."""
    head, body = _rows_as_cells(rows)
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])


def write_markdown(rows: list[SystemRow], path: Path, title: str = "") -> Path:
    head, body = _rows_as_cells(rows)
    lines = [f"# {title}", ""] if title else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(b) + " |" for b in body]
    write_text(path, "\n".join(lines) + "\n")
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
