"""``docs/regressions/NAME.md``, generated from the regression YAML (never edited by hand), and score
tables inside hand-written pages (README.md, docs/*.md), filled from the YAML between markers::

    <!-- tctcb-table nfcorpus-kd conditions=kd-none,kd-in-batch metrics=nDCG@10,R@100 -->
    (generated table)
    <!-- /tctcb-table -->

``conditions=`` and ``metrics=`` are optional (default: all, in YAML order); a condition may be written
``REGRESSION/CONDITION`` to take it from another regression. An archived regression is named
``archive/NAME`` (``resources/regressions/archive/NAME.yaml``); in its table a bare condition name not in
the archived file is taken from ``NAME.yaml``, which the archived file continues. ``--write-docs`` refills
the tables and ``--check-docs`` (and a unit test) fails when one is stale, so a page never shows a number
the YAML lacks. Archived regressions get no generated page (``--dry-run`` prints their commands).
"""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from tctcb._atomic import write_text
from tctcb.eval import to_markdown
from tctcb.reproduce._schema import (ARCHIVE, Condition, Regression, fill_values, list_regressions,
                                    load_regression, regressions_dir)

__all__ = ["docs_dir", "render_doc", "write_docs", "stale_docs", "fill_tables", "pages_with_tables"]

_TABLE = re.compile(r"(<!-- tctcb-table (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /tctcb-table -->)", re.S)


def docs_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "docs" / "regressions"


def _quote(token: str) -> str:
    return token if token.startswith(("$", "~")) else shlex.quote(token)


def _display_values(reg: Regression, cond: Condition) -> dict:
    values = {"run": f"runs/{reg.name}.{cond.name}.txt", "workdir": f"work/{reg.name}/{cond.name}",
              "cache": "~/.cache/tctcb", "data": "$TCTCB_DATA", "topics": cond.topics or "", "qrels": cond.qrels,
              "regression": reg.name, "condition": cond.name}
    return fill_values(cond, values)


def _display_commands(reg: Regression, cond: Condition) -> list[str]:
    values = _display_values(reg, cond)
    lines = [" ".join(_quote(p.format_map(values)) for p in parts) for parts in cond.commands]
    metrics = " ".join(f"-m {shlex.quote(e.metric)}" for e in cond.scores)
    rel = f" --rel-level {cond.rel_level}" if cond.rel_level is not None else ""
    lines.append(f"python -m tctcb.eval --qrels {shlex.quote(values['qrels'])} "
                 f"--run {values['run']} {metrics}{rel}")
    return lines


def _expected_table(reg: Regression) -> str:
    import pandas as pd

    rows = [(c.name, e.metric, e.expected, e.tolerance) for c in reg.conditions for e in c.scores]
    frame = pd.DataFrame(rows, columns=["condition", "metric", "expected", "tolerance"])
    frame = frame.astype({"expected": float, "tolerance": float})
    return to_markdown(frame, formats={"tolerance": "g"})


def render_doc(reg: Regression) -> str:
    out = [f"# {reg.name}: {reg.title}", "",
           f"<!-- Generated from resources/regressions/{reg.name}.yaml by "
           "`python -m tctcb.reproduce --write-docs`; edit the YAML, not this file. -->", ""]
    if reg.description:
        out += [reg.description, ""]
    if reg.source:
        out += [f"Source of the expected scores: {reg.source}", ""]
    out += [f"Run all conditions and compare with the expected scores: `python -m tctcb.reproduce {reg.name}`",
            "(prints `condition metric expected measured OK|FAIL`; a score off by more than its tolerance in "
            "either direction fails).", "", "## Expected scores", "", _expected_table(reg)]
    for cond in reg.conditions:
        out += [f"## {cond.name}", ""]
        if cond.description:
            out += [cond.description, ""]
        shown = _display_values(reg, cond)
        facts = [f"topics `{shown['topics']}`" if cond.topics else None, f"qrels `{shown['qrels']}`",
                 f"binary metrics count grades >= {cond.rel_level} as relevant" if cond.rel_level is not None else None,
                 None if cond.offline else "needs the internet (`--online`)",
                 None if cond.ci else "slow: not in `--regressions ci` (`pytest integrations --regressions all` runs it)"]
        out += ["; ".join(f for f in facts if f) + ".", "", "```bash", *_display_commands(reg, cond), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def write_docs(directory: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None) -> list[Path]:
    """(Re)write the doc of every regression; returns the paths written."""
    out = Path(out_dir) if out_dir else docs_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in list_regressions(directory):
        path = out / f"{name}.md"
        text = render_doc(load_regression(name, directory))
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            written.append(write_text(path, text))
    if out_dir is None:
        for page in pages_with_tables():
            old = page.read_text(encoding="utf-8")
            new = fill_tables(old, directory)
            if new != old:
                written.append(write_text(page, new))
    return written


def stale_docs(directory: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None) -> list[str]:
    """Names whose doc is missing or differs from the YAML, plus docs without a YAML."""
    out = Path(out_dir) if out_dir else docs_dir()
    names = list_regressions(directory or regressions_dir())
    stale = []
    for name in names:
        path = out / f"{name}.md"
        if not path.is_file() or path.read_text(encoding="utf-8") != render_doc(load_regression(name, directory)):
            stale.append(name)
    stale += sorted(p.stem + " (no YAML)" for p in out.glob("*.md") if p.stem not in names)
    if out_dir is None:
        root = Path(__file__).resolve().parents[2]
        for page in pages_with_tables():
            text = page.read_text(encoding="utf-8")
            if fill_tables(text, directory) != text:
                stale.append(f"{page.relative_to(root)} (tables)")
    return stale


def _render_table(spec: str, directory) -> str:
    from tctcb.reproduce._schema import RegressionError

    words = spec.split()
    if not words:
        raise RegressionError("tctcb-table marker without a regression name")
    reg = load_regression(words[0], directory)
    opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    bad = [w for w in words[1:] if "=" not in w] + sorted(set(opts) - {"conditions", "metrics"})
    if bad:
        raise RegressionError(f"tctcb-table {spec!r}: unknown option(s) {bad} (conditions=..., metrics=...)")
    kept = None  # archive/NAME continues NAME: a bare name it lacks is looked up there
    if words[0].startswith(ARCHIVE + "/") and (Path(directory) if directory else regressions_dir()).joinpath(
            f"{reg.name}.yaml").is_file():
        kept = load_regression(reg.name, directory)
    conds = []
    for name in (opts["conditions"].split(",") if "conditions" in opts else [c.name for c in reg.conditions]):
        if "/" in name:  # REGRESSION/CONDITION; REGRESSION may itself be archive/NAME
            other, cname = name.rsplit("/", 1)
            conds.append((name, load_regression(other, directory).condition(cname)))
        elif kept is not None and name not in {c.name for c in reg.conditions}:
            conds.append((name, kept.condition(name)))
        else:
            conds.append((name, reg.condition(name)))
    have = list(dict.fromkeys(e.metric for _, c in conds for e in c.scores))
    metrics = opts["metrics"].split(",") if "metrics" in opts else have
    unknown = [m for m in metrics if m not in have]
    if unknown:
        raise RegressionError(f"tctcb-table {spec!r}: no listed condition has {unknown} (they have {have})")
    return to_markdown(_scores_frame(conds, metrics))


def _scores_frame(conds: list[tuple[str, Condition]], metrics: list[str]):
    """Expected scores as a results frame: a ``condition`` column (the label) and one float column per metric,
    NaN where a condition has no expected score for it; the shape of :func:`tctcb.eval.experiment`'s frame."""
    import pandas as pd

    return pd.DataFrame([[label, *({e.metric: e.expected for e in c.scores}.get(m, float("nan")) for m in metrics)]
                         for label, c in conds], columns=["condition", *metrics]).astype({m: float for m in metrics})


def fill_tables(text: str, directory=None) -> str:
    """``text`` with every ``tctcb-table`` block refilled from the regression YAML."""
    return _TABLE.sub(lambda m: m.group(1) + _render_table(m.group("spec"), directory) + m.group(4), text)


def pages_with_tables() -> list[Path]:
    """README.md and docs/*.md of this checkout that hold a ``tctcb-table`` marker."""
    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return [p for p in pages if p.is_file() and "<!-- tctcb-table " in p.read_text(encoding="utf-8")]
