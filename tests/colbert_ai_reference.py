"""colbert-ai (the ColBERT repo's package) as the reference for tctcb's reading of its checkpoints: a tiny
checkpoint built and saved by colbert-ai's own ``BaseColBERT``, and scores from its own ``Checkpoint``
(``queryFromText``, ``doc_tokenizer``, ``doc``) and ``colbert_score``.

colbert-ai 0.2.22 predates transformers 5, whose ``from_pretrained`` fails on two things in colbert-ai's
``HF_ColBERT``: ``_keys_to_ignore_on_load_unexpected`` is a list (transformers 5 unites it with a set) and the
class never calls ``post_init`` (so it lacks ``all_tied_weights_keys``).  :func:`colbert_ai` sets those two
class attributes on each ``HF_ColBERT`` class colbert-ai builds -- load bookkeeping only (which unexpected
keys to ignore; a BERT encoder with a projection ties no weights) -- and leaves tokenisation, encoding and
scoring as published.  It also marks colbert-ai's C++ MaxSim extension as loaded, so no compiler runs: the
extension serves only ``colbert_score_packed``, which these comparisons never call.  Everything is undone on
exit.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["colbert_ai_missing", "colbert_ai", "make_colbert_ai_checkpoint", "colbert_ai_scores"]


def colbert_ai_missing() -> str | None:
    """Why colbert-ai cannot run here, or None."""
    import importlib

    try:
        importlib.import_module("colbert.modeling.checkpoint")
    except ImportError as e:
        return f"colbert-ai is not installed ({e}); pip install torch==2.13.0 colbert-ai==0.2.22"
    return None


@contextlib.contextmanager
def colbert_ai():
    """colbert-ai made loadable under transformers 5 for the duration (see the module docstring)."""
    import colbert.modeling.base_colbert as base
    import colbert.modeling.hf_colbert as hf
    import colbert.modeling.tokenization.doc_tokenization as doc_tok
    import colbert.modeling.tokenization.query_tokenization as query_tok
    from colbert.modeling.colbert import ColBERT

    original = hf.class_factory

    def class_factory(name_or_path):
        cls = original(name_or_path)
        cls._keys_to_ignore_on_load_unexpected = set(cls._keys_to_ignore_on_load_unexpected or ())
        cls.all_tied_weights_keys = {}
        return cls

    users = (hf, base, doc_tok, query_tok)
    had_ext = "loaded_extensions" in ColBERT.__dict__
    for m in users:
        m.class_factory = class_factory
    ColBERT.loaded_extensions = True
    try:
        yield
    finally:
        for m in users:
            m.class_factory = original
        if not had_ext:
            del ColBERT.loaded_extensions


def make_colbert_ai_checkpoint(out, backbone, seed: int = 0, **settings) -> Path:
    """colbert-ai's ``BaseColBERT`` on ``backbone`` with ``settings`` (its ``ColBERTConfig`` keywords: dim,
    query_maxlen, doc_maxlen, attend_to_mask_tokens, ...), the projection initialised from ``seed``, saved by
    ``BaseColBERT.save`` (weights, tokenizer, ``artifact.metadata``) to ``out``."""
    import torch

    out = Path(out)
    with colbert_ai():
        from colbert.infra import ColBERTConfig
        from colbert.modeling.base_colbert import BaseColBERT

        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            model = BaseColBERT(str(backbone), colbert_config=ColBERTConfig(**settings))
        finally:
            torch.random.set_rng_state(state)
        out.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(out.parent):  # its metadata asks git about the working directory: not ours
            model.save(str(out))
    return out


def colbert_ai_scores(checkpoint, query: str, passages: list[str]):
    """colbert-ai's MaxSim scores of ``query`` against each passage: a float tensor [len(passages)]."""
    with colbert_ai():
        from colbert.infra import ColBERTConfig
        from colbert.modeling.checkpoint import Checkpoint
        from colbert.modeling.colbert import colbert_score

        ck = Checkpoint(str(checkpoint), colbert_config=ColBERTConfig(), verbose=0)
        q = ck.queryFromText([query])
        ids, mask = ck.doc_tokenizer.tensorize(list(passages))
        d, d_mask = ck.doc(ids, mask, keep_dims="return_mask")
        return colbert_score(q, d, d_mask, config=ck.colbert_config).float()
