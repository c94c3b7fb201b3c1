"""Shared fixtures: the data directory (``$TCTCB_DATA``, else ``../shared/data`` beside the repo) and a
private cache directory per test session, so tests never write into the working tree."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))  # test scaffolding shared with the unit tests (tiny models, side-by-side setup)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ.get("TCTCB_DATA", _DEFAULT_DATA))
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
