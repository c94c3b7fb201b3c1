"""Every offline condition of resources/regressions/*.yaml reproduces its expected scores (the YAML is the
only place the numbers live). BM25 conditions take a few seconds each once the JVM is warm; later
conditions (training, encoding) take longer."""
import pytest

from tctcb.reproduce import format_result, list_regressions, load_regression, run_condition

CASES = [(name, cond.name) for name in list_regressions() for cond in load_regression(name).conditions
         if cond.offline]


@pytest.mark.parametrize("regression, condition", CASES, ids=[f"{r}/{c}" for r, c in CASES])
def test_regression(regression, condition, data_dir, cache_dir):
    reg = load_regression(regression)
    results = run_condition(reg, reg.condition(condition), cache=cache_dir)
    table = "\n".join(format_result(r) for r in results)
    errors = {r.error for r in results if r.error}
    assert results and all(r.ok for r in results), f"{regression}:\n{table}\n{errors or ''}"
