"""KL(teacher || student) over the candidates the teacher scored (the soft-label half of TCT-ColBERT's loss).

Lin, Yang & Lin, *Distilling Dense Representations for Ranking using Tightly-Coupled Teachers*,
arXiv:2010.11386 (2020): the frozen ColBERT teacher's MaxSim scores, softened with a temperature,
are the soft labels; with *tight coupling* the teacher scores every query against every passage of
the batch inside the training step, so each query gets a full in-batch distribution to match.
The total loss is ``gamma * CE(hard labels) + (1 - gamma) * KL(teacher || student)``.

Temperature: only the *teacher's* scores are divided by ``temperature`` (``p_t = softmax(t / tau)``);
the student's distribution is ``softmax(s)`` over its raw dot products, so its gradient is ``p_s - p_t``
with no ``1/tau`` factor and **no tau² scaling** is applied (``scale`` = 1).  Hinton et al.'s tau²
factor compensates for dividing *both* sides by tau; pass ``student_temperature=tau`` to do that, and
then the loss is multiplied by ``student_temperature ** 2``.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["DistillKLDivLoss"]


class DistillKLDivLoss(nn.Module):
    """Expects ``student`` and ``teacher`` scores [B, P] and ``candidates`` [B, P] (True = the teacher
    scored this pair and it takes part; every row needs at least two).  Both distributions are taken
    over each row's candidates only; returns the mean over rows of
    ``sum_j p_t(j) * (log p_t(j) - log p_s(j))`` times ``student_temperature ** 2``.

    >>> kl = DistillKLDivLoss(temperature=1.0)
    >>> s = torch.tensor([[1.0, 0.0, 5.0]]); t = torch.tensor([[1.0, 0.0, -9.0]])
    >>> round(kl(s, t, torch.tensor([[True, True, False]])).item(), 6)  # same two-way distribution
    0.0
    """

    def __init__(self, temperature: float = 1.0, student_temperature: float = 1.0):
        super().__init__()
        if temperature <= 0 or student_temperature <= 0:
            raise ValueError(f"temperatures must be > 0, got {temperature} and {student_temperature}")
        self.temperature = float(temperature)
        self.student_temperature = float(student_temperature)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        if student.shape != teacher.shape:
            raise ValueError(f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} scores differ in shape")
        if candidates is None:
            candidates = torch.ones_like(student, dtype=torch.bool)
        rows = candidates.sum(1) >= 2
        if not bool(rows.any()):
            return student.sum() * 0.0
        student, teacher, candidates = student[rows].float(), teacher[rows].float(), candidates[rows]
        log_ps = torch.log_softmax((student / self.student_temperature).masked_fill(~candidates, -1e9), dim=1)
        log_pt = torch.log_softmax((teacher / self.temperature).masked_fill(~candidates, -1e9), dim=1)
        pt = log_pt.exp()
        terms = torch.where(candidates, pt * (log_pt - log_ps), torch.zeros_like(pt))
        return terms.sum(1).mean() * self.student_temperature ** 2

    def get_config_dict(self) -> dict:
        return {"loss": "KL(teacher || student)", "temperature": self.temperature,
                "student_temperature": self.student_temperature, "scale": self.student_temperature ** 2,
                "paper": "arXiv:2010.11386"}
