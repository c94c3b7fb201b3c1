"""What every test shares, unit (tests/) and end-to-end (integrations/): the test tiers (the markers of pytest.ini,
set from where a test lives), the ``--regressions`` option that chooses which regression conditions
integrations/test_regressions.py runs, the data directory (``$TCTCB_DATA``, else ``../shared/data`` beside the repo)
and a private cache directory per test session, so tests never write into the working tree."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_DEFAULT_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))  # test scaffolding (tiny models, side-by-side Pyserini setup, fault injection)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ.get("TCTCB_DATA", _DEFAULT_DATA)).resolve()  # absolute: commands may run in another folder
    if not d.is_dir():
        pytest.fail(f"data directory {d} not found: set TCTCB_DATA to the folder holding nfcorpus/, cacm/, ...")
    os.environ["TCTCB_DATA"] = str(d)
    return d


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache for the whole session (derived JSONL, indexes), outside the working tree,
    unless TCTCB_CACHE is set (then reused between runs)."""
    d = Path(os.environ["TCTCB_CACHE"]) if os.environ.get("TCTCB_CACHE") else tmp_path_factory.mktemp("tctcb-cache")
    os.environ["TCTCB_CACHE"] = str(d)
    return d
