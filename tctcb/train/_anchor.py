"""The anchor: a frozen copy of the backbone in its own (sentence-transformers) form, whose embeddings of the
batch's queries and passages the student's TCT-ColBERT embeddings are kept close to (``--anchor-weight``).

Why: all-MiniLM-L6-v2 was trained for ``[CLS] text [SEP]`` with a masked mean over every token; in
TCT-ColBERT's format (``[CLS] [Q] ...[MASK]*``, pooling after the markers) the same weights score 0.057
nDCG@10 on NFCorpus, so a student trained on one small collection relearns the format from that
collection alone and forgets what the backbone knew elsewhere.  A cosine term towards the backbone's own
embeddings of the same texts is meant to carry that knowledge into the new format -- a regulariser in the
spirit of L2-SP / LwF, on embeddings rather than weights.  ``1 - cos`` is scale-free, so it does not fight the
dot product's scale that CE and KL need.  Measured (docs/experiments-history.md): it wins back part of
the out-of-domain loss on NFCorpus (up to 0.05 nDCG@10 at W = 10) and nothing on SciFact.

``--anchor-loss mse`` also pins the length: ``|| s / c - a ||^2`` with ``a`` the anchor's unit vector and ``c``
``--anchor-norm``.  The student scores by an unnormalised dot product, so passage lengths that vary by 10%
(the backbone's TCT-format passage norms on NFCorpus and CACM: coefficient of variation 0.10-0.11) reorder
a ranking that the cosine term leaves free; with every length at ``c`` the dot product ranks as the backbone's
cosine does.  The default ``c = sqrt(20)`` makes ``q . p = 20 cos``: the scale all-MiniLM-L6-v2 was trained
with (sentence-transformers' in-batch loss, scale 20).  ``--anchor-only`` trains on this term alone: a
format-adaptation stage that learns TCT-ColBERT's format from the backbone, with no labels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from tctcb.encode import st_embed

__all__ = ["StAnchor", "anchor_loss", "ANCHOR_LOSSES", "DEFAULT_ANCHOR_NORM"]

ANCHOR_LOSSES = ("cos", "mse")
DEFAULT_ANCHOR_NORM = 20 ** 0.5


class StAnchor(nn.Module):
    """Frozen BERT encoder in sentence-transformers form: ``[CLS] text [SEP]``, masked mean, L2-normalised."""

    def __init__(self, bert, tokenizer):
        super().__init__()
        self.bert, self.tokenizer = bert, tokenizer
        self.eval()
        for p in self.bert.parameters():
            p.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> "StAnchor":
        from tctcb.models import load_backbone

        return cls(*load_backbone(path))

    def train(self, mode: bool = True) -> "StAnchor":  # always frozen, dropout off
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return next(self.bert.parameters()).device

    @torch.no_grad()
    def encode(self, texts: Sequence[str], max_length: int = 256) -> torch.Tensor:
        return st_embed(self.bert, self.tokenizer, texts, max_length).float()  # tctcb.encode's sentence-transformers form


def anchor_loss(student: torch.Tensor, anchor: torch.Tensor, kind: str = "cos",
                norm: float = DEFAULT_ANCHOR_NORM) -> torch.Tensor:
    """``cos``: mean of ``1 - cos(student_i, anchor_i)`` over the rows (0 when aligned, at most 2).
    ``mse``: mean of ``|| student_i / norm - unit(anchor_i) ||^2`` (0 only when aligned *and* of length
    ``norm``; equals ``2 (1 - cos)`` for a student row of length ``norm``)."""
    if student.shape != anchor.shape:
        raise ValueError(f"anchor embeddings {tuple(anchor.shape)} do not match the student's {tuple(student.shape)}: "
                         "the anchor must be the student's own backbone (same hidden size)")
    s, a = student.float(), anchor.float()
    if kind == "cos":
        return (1.0 - nn.functional.cosine_similarity(s, a, dim=-1)).mean()
    if kind == "mse":
        if not norm > 0:
            raise ValueError(f"anchor norm must be > 0, got {norm}")
        return (s / norm - nn.functional.normalize(a, dim=-1)).pow(2).sum(-1).mean()
    raise ValueError(f"unknown anchor loss {kind!r} (choose from {', '.join(ANCHOR_LOSSES)})")
