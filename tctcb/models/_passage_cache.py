"""A ColBERT's passage token vectors kept by docid: the one cache behind MaxSim reranking (queries of a topic set
share candidates) and the live teacher in distillation (passages come back in later steps).

The model is frozen and in eval mode wherever this is used, so a passage's vectors are the same each time it is
encoded: reusing them changes no score beyond float rounding (a passage encoded beside others pads to another
length).  Least recently used passages are dropped first once ``max_items`` passages or ``max_mb`` megabytes are
held (either limit may be None; 0 keeps nothing).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch

__all__ = ["PassageVectorCache"]


class PassageVectorCache:
    """``PassageVectorCache(model, max_items=None, max_mb=None).get(docids, texts)``: each passage's matchable
    token vectors ``[n_i, dim]`` (:meth:`~tctcb.models.ColBERT.passage_token_vectors`), the cached ones looked
    up, the others encoded once (a docid drawn twice in one call is encoded once)."""

    def __init__(self, model, max_items: int | None = None, max_mb: float | None = None, batch_size: int = 32):
        self.model = model
        self.max_items = max_items
        self.max_bytes = None if max_mb is None else int(max_mb * 2 ** 20)
        self.batch_size = batch_size
        self.used = 0
        self.hits = 0
        self.misses = 0  # passages encoded
        self._store: OrderedDict[str, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self):
        return iter(self._store)

    @torch.no_grad()
    def get(self, docids: Sequence[str], texts: Sequence[str]) -> list[torch.Tensor]:
        todo = {}
        for d, t in zip(docids, texts):
            if d not in self._store and d not in todo:
                todo[d] = t
        fresh = dict(zip(todo, self.model.passage_token_vectors(list(todo.values()), self.batch_size)))
        self.misses += len(todo)
        self.hits += len(docids) - len(todo)
        out = [fresh[d] if d in fresh else self._store[d] for d in docids]
        for d in docids:
            if d in fresh and d not in self._store:
                self._store[d] = fresh[d]
                self.used += fresh[d].nelement() * fresh[d].element_size()
            if d in self._store:
                self._store.move_to_end(d)
        while self._store and ((self.max_items is not None and len(self._store) > self.max_items)
                               or (self.max_bytes is not None and self.used > self.max_bytes)):
            _, v = self._store.popitem(last=False)
            self.used -= v.nelement() * v.element_size()
        return out

    def stats(self) -> dict:
        seen = self.hits + self.misses
        return {"passages": len(self._store), "mb": round(self.used / 2 ** 20, 1),
                "hit_rate": round(self.hits / seen, 4) if seen else None}
