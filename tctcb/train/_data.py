"""Training data: (query, positive) pairs from a topic set's qrels, deterministic batches, hard negatives.

Batches are a pure function of ``(seed, step)`` (queries shuffled once per epoch, one random positive
per query), so a resumed run sees exactly the batches an uninterrupted one would have.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tctcb._atomic import write_text

__all__ = ["TrainingDataError", "TrainingData", "Example", "resolve_topic_set", "mine_bm25_negatives"]


class TrainingDataError(ValueError):
    """The training or dev data can't be used (empty split, unknown topic set, ...)."""


@dataclass(frozen=True)
class Example:
    qid: str
    positive: str
    negatives: tuple[str, ...] = ()

    @property
    def docids(self) -> tuple[str, ...]:
        return (self.positive,) + self.negatives


def resolve_topic_set(collection: str, split: str) -> str:
    """``nfcorpus`` + ``train`` -> ``nfcorpus-train``; a split that is itself a topic set name (``adi``) stays."""
    from tctcb.data import list_topic_sets, topics_collection

    known = list(list_topic_sets())
    for name in (f"{collection}-{split}", split):
        if name in known:
            owner = topics_collection(name)
            if owner is not None and owner != collection:
                raise TrainingDataError(f"topic set {name!r} searches collection {owner!r}, not {collection!r}")
            return name
    raise TrainingDataError(f"no topic set {collection}-{split!s} or {split!r}; known topic sets: {known}")


def _rng(*parts) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big"))


class TrainingData:
    """Corpus texts, training queries and their positives, judged docs (never negatives)."""

    def __init__(self, corpus: dict[str, str], topics: dict[str, str], qrels: dict[str, dict[str, int]],
                 min_relevance: int = 1, name: str = "training", log: Callable[[str], None] = print):
        if not corpus:
            raise TrainingDataError("the corpus is empty")
        self.corpus, self.topics, self.name = corpus, topics, name
        if not qrels:
            raise TrainingDataError(f"{name}: the split has no qrels (empty split)")
        self.judged = {q: {d for d, g in docs.items() if g >= min_relevance} for q, docs in qrels.items()}
        pairs = [(q, d) for q, docs in qrels.items() for d, g in docs.items() if g >= min_relevance]
        miss_q = [(q, d) for q, d in pairs if q not in topics]
        miss_d = [(q, d) for q, d in pairs if q in topics and d not in corpus]
        self.skipped = {"pairs": len(pairs), "missing_query": len(miss_q), "missing_doc": len(miss_d)}
        if miss_q or miss_d:
            ex = (miss_q + miss_d)[:3]
            log(f"warning: {name}: skipped {len(miss_q)} of {len(pairs)} training pairs whose query id is not in the "
                f"topics and {len(miss_d)} whose doc id is not in the corpus (e.g. {ex})")
        self.positives: dict[str, list[str]] = {}
        for q, d in pairs:
            if q in topics and d in corpus:
                self.positives.setdefault(q, []).append(d)
        for q in self.positives:
            self.positives[q].sort()
        order = {q: i for i, q in enumerate(topics)}
        self.qids = sorted(self.positives, key=lambda q: order[q])
        if not self.qids:
            raise TrainingDataError(f"{name}: no usable training pairs ({self.skipped}); is the split empty, or are "
                                    f"the qrels for another collection?")
        self.negatives: dict[str, list[str]] = {}

    @classmethod
    def from_registry(cls, collection: str, topic_set: str, min_relevance: int = 1, log=print) -> "TrainingData":
        from tctcb.data import get_collection, get_qrels, get_topics

        corpus = {d.docid: d.contents for d in get_collection(collection).docs()}
        return cls(corpus, get_topics(topic_set), get_qrels(topic_set), min_relevance, topic_set, log)

    # -- hard negatives -----------------------------------------------------------------------
    def set_negatives(self, ranked: dict[str, list[str]]) -> dict:
        """Keep, per query, the ranked docs that are in the corpus and not judged relevant; returns counts."""
        kept = 0
        for q in self.qids:
            judged = self.judged.get(q, set())
            self.negatives[q] = [d for d in ranked.get(q, []) if d not in judged and d in self.corpus]
            kept += len(self.negatives[q])
        empty = sum(1 for q in self.qids if not self.negatives[q])
        return {"queries": len(self.qids), "negatives": kept, "queries_without_negatives": empty}

    # -- batches ------------------------------------------------------------------------------
    def batch(self, step: int, size: int, seed: int, num_negatives: int = 0) -> list[Example]:
        """The global batch of ``step``: ``size`` distinct queries, each with one positive and
        ``num_negatives`` hard negatives (random judged-free corpus docs fill in where mining found too few)."""
        per_epoch = len(self.qids) // size
        if per_epoch == 0:
            raise TrainingDataError(f"{self.name}: batch size {size} is larger than the {len(self.qids)} training queries")
        epoch, k = divmod(step, per_epoch)
        order = list(self.qids)
        _rng(seed, "epoch", epoch).shuffle(order)
        rng = _rng(seed, "step", step)
        out = []
        for q in order[k * size:(k + 1) * size]:
            pos = rng.choice(self.positives[q])
            negs: list[str] = []
            if num_negatives:
                pool = self.negatives.get(q, [])
                negs = rng.sample(pool, min(num_negatives, len(pool)))
                while len(negs) < num_negatives:
                    d = rng.choice(self._docids())
                    if d not in self.judged.get(q, set()) and d not in negs:
                        negs.append(d)
            out.append(Example(q, pos, tuple(negs)))
        return out

    def _docids(self) -> list[str]:
        if not hasattr(self, "_docid_list"):
            self._docid_list = sorted(self.corpus)
        return self._docid_list

    def exclude_mask(self, examples: list[Example]):
        """[B, P] bool: passage j is judged relevant to query i but is not its own positive (never a negative)."""
        import torch

        docids = [d for e in examples for d in e.docids]
        width = 1 + len(examples[0].negatives)
        m = torch.zeros(len(examples), len(docids), dtype=torch.bool)
        for i, e in enumerate(examples):
            judged = self.judged.get(e.qid, set())
            for j, d in enumerate(docids):
                if j != i * width and (d in judged or d == e.positive):
                    m[i, j] = True
        return m


def mine_bm25_negatives(collection: str, topics: dict[str, str], depth: int, cache: Path | None = None,
                        log=print) -> dict[str, list[str]]:
    """BM25 (k1 0.9, b 0.4) top-``depth`` per query through the collection's Lucene index; cached as JSON."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text())
    from tctcb.index import bm25_run, build_lucene_index

    log(f"mining BM25 negatives for {len(topics)} queries (top {depth})")
    run = bm25_run(build_lucene_index(collection), topics, k=depth, remove_query=True)
    ranked = {q: sorted(hits, key=lambda d: -hits[d]) for q, hits in run.items()}
    if cache is not None:
        write_text(cache, json.dumps(ranked))
    return ranked
