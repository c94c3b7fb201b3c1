"""Shared fixtures: the data directory (``$TCTCB_DATA``, else ``../shared/data`` beside the repo) and a
private cache directory per test session, so tests never write into the working tree."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "data"

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


@pytest.fixture(scope="session")
def adi_dense(tmp_path_factory, data_dir, cache_dir):
    """(Shared by the search tests.) A dense index of ADI with the offline MiniLM in sentence-transformers format."""
    import json

    import faiss
    import numpy as np

    from tctcb.data import get_collection
    from tctcb.encode import SentenceTransformerEncoder
    from tctcb.models import default_backbone_dir

    enc_dir = default_backbone_dir()
    docs = list(get_collection("adi").docs())
    emb = SentenceTransformerEncoder(enc_dir).encode([d.contents for d in docs])
    out = tmp_path_factory.mktemp("adi-dense")
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(np.ascontiguousarray(emb, dtype=np.float32))
    faiss.write_index(index, str(out / "index"))
    (out / "docid").write_text("".join(d.docid + "\n" for d in docs))
    (out / "meta.json").write_text(json.dumps({"encoder": str(enc_dir), "pooling": "st",
                                               "dimension": int(emb.shape[1]), "count": len(docs)}))
    return out
