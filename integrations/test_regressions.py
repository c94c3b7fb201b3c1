"""Offline conditions of resources/regressions/*.yaml reproduce their expected scores (the YAML is the only place
the numbers live). Which conditions run is chosen with ``--regressions`` (conftest.py at the repository root):
``smoke`` (default, the README's test command) runs one BM25 regression; ``ci`` the conditions marked ``ci: true``;
``all`` every offline condition (hours on a 2-core CPU); ``NAME[,NAME...]`` the named regressions (or
``NAME/CONDITION``). ``python -m tctcb.reproduce NAME`` runs the same conditions outside pytest. Conditions run in
file order, so a condition may use what an earlier one built.
"""
import pytest

from tctcb.reproduce import format_result, list_regressions, load_regression, run_condition

SMOKE = ("cacm-bm25/bm25",)  # the README's test command: one BM25 regression (Anserini's published CACM numbers)


def selected(which: str) -> list[tuple[str, str]]:
    """(regression, condition) pairs for a ``--regressions`` value, in file order."""
    every = [(name, c) for name in list_regressions() for c in load_regression(name).conditions if c.offline]
    if which == "none":
        return []
    if which == "all":
        return [(n, c.name) for n, c in every]
    if which == "ci":
        return [(n, c.name) for n, c in every if c.ci]
    wanted = SMOKE if which == "smoke" else tuple(x.strip() for x in which.split(",") if x.strip())
    known = {n for n, _ in every} | {f"{n}/{c.name}" for n, c in every}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise pytest.UsageError(f"--regressions: unknown regression or condition {unknown[0]!r} "
                                "(smoke, ci, all, none, NAME or NAME/CONDITION)")
    return [(n, c.name) for n, c in every if n in wanted or f"{n}/{c.name}" in wanted]


def pytest_generate_tests(metafunc):
    if {"regression", "condition"} <= set(metafunc.fixturenames):
        cases = selected(metafunc.config.getoption("--regressions"))
        metafunc.parametrize("regression, condition",
                             [pytest.param(n, c, id=f"{n}/{c}", marks=pytest.mark.regression) for n, c in cases])


def test_regression(regression, condition, data_dir, cache_dir):
    reg = load_regression(regression)
    results = run_condition(reg, reg.condition(condition), cache=cache_dir)
    table = "\n".join(format_result(r) for r in results)
    errors = {r.error for r in results if r.error}
    assert results and all(r.ok for r in results), f"{regression}:\n{table}\n{errors or ''}"


def test_regressions_option_chooses_conditions():
    """The tiers: smoke is one BM25 condition; ci is a subset of all; names select whole regressions."""
    assert selected("smoke") == [("cacm-bm25", "bm25")]
    assert selected("none") == []
    assert set(selected("ci")) < set(selected("all"))
    assert {c for n, c in selected("cacm-bm25")} == {c.name for c in load_regression("cacm-bm25").conditions}
    with pytest.raises(pytest.UsageError, match="unknown"):
        selected("no-such-regression")
