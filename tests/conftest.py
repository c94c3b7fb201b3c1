"""Fixtures of the unit tests (the data and cache fixtures are the repository's conftest.py)."""
import pytest


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
