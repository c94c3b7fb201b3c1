"""The README's test command collects ``tests`` and ``integrations`` in one pytest run.

Neither folder is a package, so pytest imports each test file under its bare basename: two files
with the same name in the two folders abort the whole collection ("import file mismatch"), which
is how CI failed once. This keeps the names unique.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_test_module_basename_in_both_tiers():
    unit = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    integ = {p.name for p in (ROOT / "integrations").glob("test_*.py")}
    assert unit and integ
    assert not unit & integ, f"rename one of each pair: {sorted(unit & integ)}"
