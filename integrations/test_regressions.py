"""Every offline condition of resources/regressions/*.yaml reproduces its expected scores (the YAML is the
only place the numbers live). BM25 conditions take a few seconds each once the JVM is warm; later
conditions (training, encoding) take longer.

Conditions marked ``ci: false`` in the YAML (the distillation ablations and out-of-domain runs: tens of
minutes on a 2-core CPU) are skipped unless ``TCTCB_REGRESSIONS_ALL=1``; ``python -m tctcb.reproduce NAME``
runs them either way. Conditions run in file order, so a condition may use what an earlier one built.
"""
import os

import pytest

from tctcb.reproduce import format_result, list_regressions, load_regression, run_condition

ALL = os.environ.get("TCTCB_REGRESSIONS_ALL", "") == "1"
CASES = [pytest.param(name, cond.name, id=f"{name}/{cond.name}",
                      marks=() if cond.ci or ALL else pytest.mark.skip(
                          reason=f"ci: false (run `python -m tctcb.reproduce {name}` or set TCTCB_REGRESSIONS_ALL=1)"))
         for name in list_regressions() for cond in load_regression(name).conditions if cond.offline]


@pytest.mark.parametrize("regression, condition", CASES)
def test_regression(regression, condition, data_dir, cache_dir):
    reg = load_regression(regression)
    results = run_condition(reg, reg.condition(condition), cache=cache_dir)
    table = "\n".join(format_result(r) for r in results)
    errors = {r.error for r in results if r.error}
    assert results and all(r.ok for r in results), f"{regression}:\n{table}\n{errors or ''}"
