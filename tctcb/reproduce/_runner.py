"""Run a regression's conditions and compare each measured score with the YAML's expected one."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tctcb.reproduce._schema import Condition, Regression, fill_values

__all__ = ["Result", "condition_paths", "condition_qrels", "expand_commands", "run_condition", "format_result",
           "plan_conditions", "print_commands"]


@dataclass(frozen=True)
class Result:
    regression: str
    condition: str
    metric: str
    expected: float
    tolerance: float
    measured: float | None
    ok: bool
    error: str = ""


def format_result(r: Result) -> str:
    """``condition metric expected measured OK|FAIL`` (measured ``-`` when there is none)."""
    measured = "-" if r.measured is None else f"{r.measured:.4f}"
    return f"{r.condition:<28} {r.metric:<14} {r.expected:.4f} {measured:>7} {'OK' if r.ok else 'FAIL'}"


def plan_conditions(regs: list[Regression], names: list[str] | None = None) -> list[tuple[Regression, Condition]]:
    """(regression, condition) pairs to run: the named conditions of each regression, else all, in file order."""
    return [(r, c) for r in regs for c in ([r.condition(x) for x in names] if names else r.conditions)]


def print_commands(plan: list[tuple[Regression, Condition]], file=None) -> None:
    """``--dry-run``: each condition's commands as they would run, under a ``# REGRESSION / CONDITION`` line."""
    for reg, cond in plan:
        print(f"# {reg.name} / {cond.name}{'' if cond.offline else ' (needs the internet)'}", file=file)
        for cmd in expand_commands(reg, cond):
            print(" ".join(cmd), file=file)


class _Values(dict):
    """Placeholder values; ``{data}`` resolves lazily (it needs the data directory set)."""

    def __missing__(self, key):
        if key == "data":
            from tctcb.data import data_dir

            value = self[key] = str(data_dir())
            return value
        raise KeyError(key)


def condition_paths(reg: Regression, cond: Condition, cache: str | os.PathLike | None = None) -> dict[str, Path]:
    """The run file and scratch folder of a condition, under ``{cache}/reproduce/REGRESSION/``."""
    if cache is None:
        from tctcb.data import cache_dir

        cache = cache_dir()
    base = Path(cache) / "reproduce" / reg.name
    return {"cache": Path(cache), "run": base / f"{cond.name}.run", "workdir": base / cond.name}


def condition_qrels(reg: Regression, cond: Condition, cache: str | os.PathLike | None = None) -> str:
    """The qrels (a name or a file) the condition's run is evaluated with, its placeholders filled in."""
    return _values(reg, cond, cache)["qrels"]


def _values(reg: Regression, cond: Condition, cache) -> _Values:
    paths = condition_paths(reg, cond, cache)
    v = _Values(run=str(paths["run"]), workdir=str(paths["workdir"]), cache=str(paths["cache"]),
                topics=cond.topics or "", qrels=cond.qrels, regression=reg.name, condition=cond.name)
    # vars may use the built-in placeholders, e.g. `student: "{cache}/models/student"` (one level).
    fill_values(cond, v)
    return v


def expand_commands(reg: Regression, cond: Condition, cache: str | os.PathLike | None = None) -> list[list[str]]:
    """The condition's commands with placeholders filled in; a leading ``python`` is this interpreter."""
    values = _values(reg, cond, cache)
    out = []
    for parts in cond.commands:
        cmd = [p.format_map(values) for p in parts]
        if cmd[0] == "python":
            cmd[0] = sys.executable
        out.append(cmd)
    return out


def _run(cmd: list[str], stream) -> int:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = None
    if fd is not None:
        stream.flush()
        return subprocess.run(cmd, stdout=fd, stderr=fd).returncode
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    stream.write(proc.stdout)
    return proc.returncode


def _all(reg: Regression, cond: Condition, measured: dict[str, float], error: str = "") -> list[Result]:
    out = []
    for e in cond.scores:
        m = measured.get(e.metric)
        out.append(Result(reg.name, cond.name, e.metric, e.expected, e.tolerance, m, e.check(m), error))
    return out


def run_condition(reg: Regression, cond: Condition, cache: str | os.PathLike | None = None, stream=None) -> list[Result]:
    """Run ``cond``'s commands (their output goes to ``stream``, default stderr), then evaluate ``{run}``.

    The run file is deleted first, so a stale one is never scored. A failing command, a missing or
    unparsable run file, or a missing metric gives FAIL results carrying the reason in ``error``.
    """
    from tctcb.eval import RunFormatError, evaluate, load_qrels, read_run

    stream = stream or sys.stderr
    paths = condition_paths(reg, cond, cache)
    paths["workdir"].mkdir(parents=True, exist_ok=True)
    paths["run"].unlink(missing_ok=True)
    for cmd in expand_commands(reg, cond, cache):
        print("+ " + " ".join(cmd), file=stream, flush=True)
        try:
            rc = _run(cmd, stream)
        except OSError as e:
            return _all(reg, cond, {}, f"cannot run {cmd[0]}: {e}")
        if rc != 0:
            return _all(reg, cond, {}, f"command exited with status {rc}: {' '.join(cmd)}")
    try:
        run = read_run(paths["run"])
    except RunFormatError as e:
        return _all(reg, cond, {}, f"unparsable run: {e}")
    try:
        qrels = load_qrels(condition_qrels(reg, cond, cache))
        measured = evaluate(run, qrels, [e.metric for e in cond.scores], rel_level=cond.rel_level)
    except Exception as e:  # any evaluation failure is a FAIL with its reason, never a silent 0
        return _all(reg, cond, {}, f"evaluation failed: {type(e).__name__}: {e}")
    return _all(reg, cond, measured)
