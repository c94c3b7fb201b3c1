"""Softmax cross-entropy over in-batch candidates (the hard-label half of TCT-ColBERT's loss).

Lin, Yang & Lin, *Distilling Dense Representations for Ranking using Tightly-Coupled Teachers*,
arXiv:2010.11386 (2020): the student (and, here, the ColBERT teacher) is trained with softmax
cross-entropy of each query's positive against the other passages of the batch.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["InBatchCrossEntropyLoss"]


class InBatchCrossEntropyLoss(nn.Module):
    """Expects ``scores`` [B, P] (query ``i`` against every passage of the batch), ``labels`` [B]
    (column of query ``i``'s positive) and optionally ``exclude`` [B, P] (True = not a candidate for
    that query: another passage judged relevant to it, which must never be treated as a negative).
    Returns the mean over queries of ``-log softmax(scores_i)[labels_i]`` over the remaining columns.

    >>> loss = InBatchCrossEntropyLoss()
    >>> round(loss(torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 1])).item(), 4)
    0.1269
    """

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        if scores.dim() != 2 or labels.shape != scores.shape[:1]:
            raise ValueError(f"scores must be [B, P] and labels [B]; got {tuple(scores.shape)} and {tuple(labels.shape)}")
        scores = scores.float()
        if exclude is not None:
            if exclude.gather(1, labels[:, None]).any():
                raise ValueError("a query's own positive is excluded from its candidates")
            scores = scores.masked_fill(exclude, -1e9)
        return nn.functional.cross_entropy(scores, labels)

    def get_config_dict(self) -> dict:
        return {"loss": "in-batch softmax cross-entropy", "paper": "arXiv:2010.11386"}
