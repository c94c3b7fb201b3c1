"""Test tiers for the whole repository: the markers of pytest.ini, set from where a test lives, and the
``--regressions`` option that chooses which regression conditions integrations/test_regressions.py runs."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def pytest_addoption(parser):
    parser.addoption("--regressions", default="smoke", metavar="WHICH",
                     help="regression conditions to run: smoke (default: one BM25 regression, SMOKE in "
                          "integrations/test_regressions.py), ci (the YAML's "
                          "ci: true conditions), all (every offline condition), none, or NAME[,NAME...] (every offline "
                          "condition of those regressions, or NAME/CONDITION)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(ROOT).parts
        if parts[0] == "tests":
            item.add_marker(pytest.mark.unit)
        elif parts[0] == "integrations" and not item.get_closest_marker("regression"):
            item.add_marker(pytest.mark.e2e)
