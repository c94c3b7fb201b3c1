"""The live teacher's passage token vectors, kept by docid for the rest of the run (``--teacher-cache-mb``).

The teacher is frozen and in eval mode, so a passage's token vectors are the same in every step that draws it:
encoding them once and reusing them changes no score beyond float rounding (a passage encoded beside other
passages pads to a different length), while the coupling stays tight -- the teacher still scores every
in-batch pair of every step.  On a small collection most passages come back many times (NFCorpus: 3,633
documents, 7,680 passage draws in 240 steps of 16 queries with one negative), so most of the teacher's cost goes.

Memory is bounded: vectors are added until ``budget_mb`` is reached, after which new passages are encoded in
every step as before (a collection too large to cache loses nothing but the speed-up).
"""
from __future__ import annotations

import torch

__all__ = ["PassageVectors"]


class PassageVectors:
    """``PassageVectors(teacher, budget_mb).get(docids, texts) -> (dv [P, L, d], dm [P, L])``: the teacher's
    ``encode_passage`` output for these passages, cached ones looked up, the others encoded in one call."""

    def __init__(self, teacher, budget_mb: float):
        self.teacher = teacher
        self.budget = int(budget_mb * 2 ** 20)
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._store: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self._store)

    @torch.no_grad()
    def get(self, docids: list[str], texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        todo = {d: i for i, d in reversed(list(enumerate(docids))) if d not in self._store}  # first draw of each
        fresh: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if todo:
            dv, dm = self.teacher.encode_passage([texts[i] for i in todo.values()])
            for row, d in enumerate(todo):
                length = int(dm[row].nonzero().max()) + 1 if bool(dm[row].any()) else 1
                fresh[d] = (dv[row, :length], dm[row, :length])
        self.hits += len(docids) - len(todo)
        self.misses += len(todo)
        parts = [self._store.get(d) or fresh[d] for d in docids]
        for d, (v, m) in fresh.items():
            size = v.nelement() * v.element_size() + m.nelement() * m.element_size()
            if self.used + size <= self.budget:
                self._store[d] = (v, m)
                self.used += size
        width = max(v.shape[0] for v, _ in parts)
        dv = parts[0][0].new_zeros(len(parts), width, parts[0][0].shape[-1])
        dm = parts[0][1].new_zeros(len(parts), width)
        for i, (v, m) in enumerate(parts):
            dv[i, :v.shape[0]], dm[i, :m.shape[0]] = v, m
        return dv, dm

    def stats(self) -> dict:
        seen = self.hits + self.misses
        return {"passages": len(self._store), "mb": round(self.used / 2 ** 20, 1),
                "hit_rate": round(self.hits / seen, 4) if seen else None}
