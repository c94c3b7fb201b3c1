"""SentenceTransformerEncoder gives sentence-transformers' own numbers for all-MiniLM-L6-v2 (the
zero-shot baseline format: [CLS] text [SEP], mean pooling, L2-normalised, max_seq_length 256)."""
import numpy as np
import pytest

from tctcb.encode import SentenceTransformerEncoder, load_query_encoder
from tctcb.models import default_backbone_dir


def test_equals_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    d = str(default_backbone_dir())
    texts = ["Statins and breast cancer survival", "", "vitamin d " * 300, "Fish oil, omega-3 & heart disease?"]
    ref = st.SentenceTransformer(d, device="cpu").encode(texts, convert_to_numpy=True, normalize_embeddings=False)
    ours = SentenceTransformerEncoder(d)
    emb = ours.encode(texts)
    assert emb.shape == (4, 384)
    assert np.abs(emb - ref).max() < 1e-4
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert ours.stats.truncated == 1 and ours.stats.empty == 1 and ours.max_length == 256
    assert np.abs(ours.encode(texts[0]) - ref[0]).max() < 1e-4  # a single query -> [d]
    q = load_query_encoder(d, "st")
    assert np.abs(q.encode_batch(texts[:2]) - ref[:2]).max() < 1e-4
