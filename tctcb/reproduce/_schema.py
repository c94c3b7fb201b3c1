"""The regression YAML (``resources/regressions/NAME.yaml``): one file per regression, the one source
of truth for commands and expected scores (the runner, the integration tests and the docs read it).

Schema::

    name: cacm-bm25                  # must equal the file stem
    title: BM25 on CACM              # one line
    description: ...                 # optional, free text (shown in the docs)
    source: ...                      # optional: where the expected numbers come from
    tolerance: 0.00005               # optional default tolerance for every score (default 0.00005)
    vars: {seed: 42, student: "{cache}/models/student"}   # optional extra placeholders (may use built-ins)
    conditions:
      - name: bm25                   # unique within the file
        description: ...             # optional
        offline: true                # optional (default true); false = needs the internet
        ci: true                     # optional (default true); false = too slow for `--regressions ci`
                                     # (runs with `python -m tctcb.reproduce`, or `pytest integrations --regressions all`)
        vars: {...}                  # optional, added to / overriding the file's vars
        commands:                    # run in order, no shell; a leading `python` is this interpreter
          - python -m tctcb.index lucene --collection cacm
          - python -m tctcb.index bm25-run --collection cacm --topics cacm --output {run}
        topics: cacm                 # optional, informational ({topics} placeholder)
        qrels: cacm                  # qrels name or file, for evaluating {run}
        rel_level: 2                 # optional: binary metrics count grades >= 2 (TREC DL)
        scores:                      # ir_measures names; a number, or {expected, tolerance}
          AP: 0.3123
          P@30: {expected: 0.1942, tolerance: 0.0001}

Placeholders in commands: ``{run}`` (the run file the condition must write), ``{workdir}`` (a scratch
folder for this condition), ``{cache}``, ``{data}``, ``{topics}``, ``{qrels}``, ``{regression}``,
``{condition}`` and the ``vars``. A measured score off by more than its tolerance in either direction
is a FAIL.

The matrix is ``resources/regressions/*.yaml``: the conditions a claim in the README or the docs rests on.
Exploratory conditions live in ``resources/regressions/archive/*.yaml`` (same schema; see
:func:`archive_dir`), outside the matrix, the integration tests and the generated pages.
"""
from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from tctcb._command import UserError

__all__ = ["RegressionError", "Expected", "Condition", "Regression", "regressions_dir", "list_regressions",
           "archive_dir", "ARCHIVE", "load_regression", "DEFAULT_TOLERANCE", "BUILTIN_PLACEHOLDERS", "fill_values"]

DEFAULT_TOLERANCE = 0.00005
BUILTIN_PLACEHOLDERS = ("run", "workdir", "cache", "data", "topics", "qrels", "regression", "condition")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_TOP_KEYS = {"name", "title", "description", "source", "tolerance", "vars", "conditions"}
_COND_KEYS = {"name", "description", "offline", "ci", "vars", "commands", "topics", "qrels", "rel_level", "scores"}


class RegressionError(UserError, ValueError):
    """A regression file that does not follow the schema (the message names file and key)."""


@dataclass(frozen=True)
class Expected:
    metric: str
    expected: float
    tolerance: float

    def check(self, measured: float | None) -> bool:
        """OK when ``measured`` is within ``tolerance`` of ``expected`` (either direction)."""
        if measured is None or measured != measured:  # missing or NaN
            return False
        return abs(measured - self.expected) <= self.tolerance + 1e-12


@dataclass(frozen=True)
class Condition:
    name: str
    commands: tuple[tuple[str, ...], ...]
    qrels: str
    scores: tuple[Expected, ...]
    topics: str | None = None
    rel_level: int | None = None
    offline: bool = True
    description: str = ""
    vars: dict = field(default_factory=dict)
    ci: bool = True


@dataclass(frozen=True)
class Regression:
    name: str
    title: str
    conditions: tuple[Condition, ...]
    description: str = ""
    source: str = ""
    path: Path | None = None

    def condition(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise RegressionError(f"{self.name}: no condition {name!r} (have: {', '.join(c.name for c in self.conditions)})")


def fill_values(cond: "Condition", values: dict) -> dict:
    """``values`` (the built-in placeholders) plus the condition's vars, each filled in from the built-ins;
    ``topics`` and ``qrels`` filled in from both (``qrels: "{collection}-test"``)."""
    values.update({k: str(v).format_map(values) for k, v in cond.vars.items()})
    values["topics"] = str(values.get("topics") or "").format_map(values)
    values["qrels"] = str(values.get("qrels") or "").format_map(values)
    return values


def regressions_dir() -> Path:
    """``$TCTCB_REGRESSIONS`` if set, else ``resources/regressions`` of this checkout."""
    env = os.environ.get("TCTCB_REGRESSIONS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "resources" / "regressions"


def list_regressions(directory: str | os.PathLike | None = None) -> list[str]:
    """The regressions of ``directory`` (default :func:`regressions_dir`): its ``*.yaml``, not its subfolders,
    so the archive (``archive/``) is never part of the matrix."""
    d = Path(directory) if directory else regressions_dir()
    return sorted(p.stem for p in d.glob("*.yaml"))


ARCHIVE = "archive"


def archive_dir(directory: str | os.PathLike | None = None) -> Path:
    """``archive/`` of the regressions folder: exploratory conditions kept runnable but out of the matrix.

    ``archive/NAME.yaml`` continues ``NAME.yaml`` when both exist: same ``vars`` (so the same work folder) and
    run after it (its conditions may use what the kept ones built); condition names are unique across the two.
    Run it with ``python -m tctcb.reproduce --regressions-dir resources/regressions/archive NAME`` (or
    ``python -m tctcb.reproduce archive/NAME``)."""
    return (Path(directory) if directory else regressions_dir()) / ARCHIVE


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}


def _split(command: str, where: str) -> tuple[str, ...]:
    import shlex

    try:
        parts = tuple(shlex.split(command))
    except ValueError as e:
        raise RegressionError(f"{where}: cannot split command {command!r}: {e}") from None
    if not parts:
        raise RegressionError(f"{where}: empty command")
    return parts


def _expected(metric, value, default_tol: float, where: str) -> Expected:
    from tctcb.eval import parse_metric

    try:
        parse_metric(str(metric))
    except ValueError as e:
        raise RegressionError(f"{where}: {e}") from None
    if isinstance(value, dict):
        unknown = set(value) - {"expected", "tolerance"}
        if unknown or "expected" not in value:
            raise RegressionError(f"{where}.{metric}: use a number or {{expected: X, tolerance: T}}")
        exp, tol = value["expected"], value.get("tolerance", default_tol)
    else:
        exp, tol = value, default_tol
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or isinstance(tol, bool) \
            or not isinstance(tol, (int, float)) or tol < 0:
        raise RegressionError(f"{where}.{metric}: expected score and tolerance must be numbers (tolerance >= 0)")
    return Expected(str(metric), float(exp), float(tol))


def _condition(raw, default_tol: float, file_vars: dict, where: str) -> Condition:
    if not isinstance(raw, dict):
        raise RegressionError(f"{where}: a condition must be a mapping")
    unknown = set(raw) - _COND_KEYS
    if unknown:
        raise RegressionError(f"{where}: unknown key(s) {sorted(unknown)} (allowed: {sorted(_COND_KEYS)})")
    for key in ("name", "commands", "qrels", "scores"):
        if key not in raw:
            raise RegressionError(f"{where}: missing {key!r}")
    if not isinstance(raw["name"], str):  # e.g. `name: off` or `name: 1` (YAML reads a boolean / number)
        raise RegressionError(f"{where}: condition name {raw['name']!r} is not a string (quote it)")
    name = raw["name"]
    if not _NAME.match(name):
        raise RegressionError(f"{where}: bad condition name {name!r}")
    where = f"{where} ({name})"
    cmds = raw["commands"]
    if not isinstance(cmds, list) or not cmds or not all(isinstance(c, str) for c in cmds):
        raise RegressionError(f"{where}.commands: a non-empty list of command strings")
    cond_vars = raw.get("vars") or {}
    if not isinstance(cond_vars, dict) or set(cond_vars) & set(BUILTIN_PLACEHOLDERS):
        raise RegressionError(f"{where}.vars: a mapping not redefining {BUILTIN_PLACEHOLDERS}")
    vars_ = {**file_vars, **cond_vars}
    for k, v in vars_.items():
        bad = _placeholders(str(v)) - set(BUILTIN_PLACEHOLDERS)
        if bad:
            raise RegressionError(f"{where}.vars.{k}: only built-in placeholders allowed in vars, not {sorted(bad)}")
    known = set(BUILTIN_PLACEHOLDERS) | set(vars_)
    commands = tuple(_split(c, f"{where}.commands") for c in cmds)
    for c in cmds:
        bad = _placeholders(c) - known
        if bad:
            raise RegressionError(f"{where}.commands: unknown placeholder(s) {sorted(bad)} in {c!r}")
    if not any("run" in _placeholders(c) for c in cmds):
        raise RegressionError(f"{where}.commands: no command writes {{run}}")
    bad = _placeholders(str(raw["qrels"])) - known
    if bad:
        raise RegressionError(f"{where}.qrels: unknown placeholder(s) {sorted(bad)}")
    scores = raw["scores"]
    if not isinstance(scores, dict) or not scores:
        raise RegressionError(f"{where}.scores: a non-empty mapping metric -> expected score")
    rel = raw.get("rel_level")
    if rel is not None and (isinstance(rel, bool) or not isinstance(rel, int)):
        raise RegressionError(f"{where}.rel_level: an integer grade")
    offline = raw.get("offline", True)
    if not isinstance(offline, bool):
        raise RegressionError(f"{where}.offline: true or false")
    ci = raw.get("ci", True)
    if not isinstance(ci, bool):
        raise RegressionError(f"{where}.ci: true or false")
    return Condition(
        name=name, commands=commands, qrels=str(raw["qrels"]),
        scores=tuple(_expected(m, v, default_tol, f"{where}.scores") for m, v in scores.items()),
        topics=None if raw.get("topics") is None else str(raw["topics"]), rel_level=rel, offline=offline,
        description=str(raw.get("description") or "").strip(), vars={k: str(v) for k, v in vars_.items()}, ci=ci,
    )


def load_regression(name_or_path: str | os.PathLike, directory: str | os.PathLike | None = None) -> Regression:
    """Load and validate ``NAME`` (from :func:`regressions_dir`) or a YAML path."""
    import yaml

    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = (Path(directory) if directory else regressions_dir()) / f"{name_or_path}.yaml"
        if not p.is_file():
            have = ", ".join(list_regressions(p.parent)) or "none"
            raise RegressionError(f"unknown regression {str(name_or_path)!r} (have: {have})")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise RegressionError(f"{p}: cannot read YAML: {e}") from None
    if not isinstance(raw, dict):
        raise RegressionError(f"{p}: expected a mapping at the top")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise RegressionError(f"{p}: unknown key(s) {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})")
    for key in ("name", "title", "conditions"):
        if key not in raw:
            raise RegressionError(f"{p}: missing {key!r}")
    if str(raw["name"]) != p.stem:
        raise RegressionError(f"{p}: name {raw['name']!r} differs from the file name {p.stem!r}")
    tol = raw.get("tolerance", DEFAULT_TOLERANCE)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0:
        raise RegressionError(f"{p}: tolerance must be a number >= 0")
    file_vars = raw.get("vars") or {}
    if not isinstance(file_vars, dict) or set(file_vars) & set(BUILTIN_PLACEHOLDERS):
        raise RegressionError(f"{p}: vars must be a mapping not redefining {BUILTIN_PLACEHOLDERS}")
    conds = raw["conditions"]
    if not isinstance(conds, list) or not conds:
        raise RegressionError(f"{p}: conditions must be a non-empty list")
    conditions = tuple(_condition(c, float(tol), file_vars, f"{p}: conditions[{i}]") for i, c in enumerate(conds))
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise RegressionError(f"{p}: duplicate condition names in {names}")
    return Regression(name=p.stem, title=str(raw["title"]), conditions=conditions,
                      description=str(raw.get("description") or "").strip(),
                      source=str(raw.get("source") or "").strip(), path=p)
