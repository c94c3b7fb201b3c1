"""Training data: (query, positive) pairs from a topic set's qrels or from a triples file, deterministic
batches, hard negatives (mined, from a run file, or the triples' own).

Batches are a pure function of ``(seed, step)`` (queries shuffled once per epoch, one random positive
per query; triples: rows in a seeded permutation of the file, drawn afresh each epoch), so a resumed run
sees exactly the batches an uninterrupted one would have. The corpus is a mapping ``docid -> text``: a
:class:`tctcb.data.DocStore` (an offset index over the corpus file, so memory does not grow with it) or,
in tests, a dict.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from tctcb._command import UserError
from tctcb._atomic import write_text

__all__ = ["TrainingDataError", "TrainingData", "Example", "resolve_topic_set", "mine_bm25_negatives",
           "read_run_negatives"]


class TrainingDataError(UserError, ValueError):
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

    def __init__(self, corpus: Mapping[str, str], topics: dict[str, str], qrels: dict[str, dict[str, int]],
                 min_relevance: int = 1, name: str = "training", log: Callable[[str], None] = print,
                 triples=None):
        if not len(corpus):
            raise TrainingDataError("the corpus is empty")
        self.corpus, self.topics, self.name, self.log = corpus, topics, name, log
        self.triples = triples
        self.negatives: dict[str, list[str]] = {}
        self.judged = {q: {d for d, g in docs.items() if g >= min_relevance} for q, docs in qrels.items()}
        if triples is not None:
            self._check_triples()
            return
        if not qrels:
            raise TrainingDataError(f"{name}: the split has no qrels (empty split)")
        pairs = [(q, d) for q, docs in qrels.items() for d, g in docs.items() if g >= min_relevance]
        in_corpus = self._in_corpus([d for q, d in pairs if q in topics])
        miss_q = [(q, d) for q, d in pairs if q not in topics]
        miss_d = [(q, d) for q, d in pairs if q in topics and d not in in_corpus]
        self.skipped = {"pairs": len(pairs), "missing_query": len(miss_q), "missing_doc": len(miss_d)}
        if miss_q or miss_d:
            ex = (miss_q + miss_d)[:3]
            log(f"warning: {name}: skipped {len(miss_q)} of {len(pairs)} training pairs whose query id is not in the "
                f"topics and {len(miss_d)} whose doc id is not in the corpus (e.g. {ex})")
        self.positives: dict[str, list[str]] = {}
        for q, d in pairs:
            if q in topics and d in in_corpus:
                self.positives.setdefault(q, []).append(d)
        for q in self.positives:
            self.positives[q].sort()
        order = {q: i for i, q in enumerate(topics)}
        self.qids = sorted(self.positives, key=lambda q: order[q])
        if not self.qids:
            raise TrainingDataError(f"{name}: no usable training pairs ({self.skipped}); is the split empty, or are "
                                    f"the qrels for another collection?")

    def _in_corpus(self, docids) -> set[str]:
        """The docids of ``docids`` that the corpus holds (one bulk lookup for a docstore)."""
        docids = list(dict.fromkeys(docids))
        rows = getattr(self.corpus, "rows", None)
        if rows is None:
            return {d for d in docids if d in self.corpus}
        return {d for d, r in zip(docids, rows(docids)) if r >= 0}

    def _check_triples(self) -> None:
        """Triples give the examples: every query id must have a text (the topics, or the row's own)."""
        qids = [q.decode("utf-8") for q in self.triples.qids]
        if self.triples.format != "tevatron":
            missing = [q for q in qids if q not in self.topics]
            if missing:
                raise TrainingDataError(f"{self.triples.path}: {len(missing)} of {len(qids)} query ids have no text in "
                                        f"{self.name} (e.g. {missing[0]!r}): register the training queries as that split")
        self.qids = qids
        self.positives = {}
        self.skipped = {"triples": len(self.triples), "queries": len(qids)}

    @classmethod
    def from_registry(cls, collection: str, topic_set: str, min_relevance: int = 1, log=print,
                      triples: str | None = None) -> "TrainingData":
        from tctcb.data import get_collection, get_qrels, get_topics

        corpus = get_collection(collection).docstore(log=log)
        store = None
        if triples:
            from tctcb.data import TripleStore

            store = TripleStore.open(triples, corpus, log=log)
        return cls(corpus, get_topics(topic_set), get_qrels(topic_set), min_relevance, topic_set, log, triples=store)

    # -- hard negatives -----------------------------------------------------------------------
    def set_negatives(self, ranked: dict[str, list[str]]) -> dict:
        """Keep, per query, the ranked docs that are in the corpus and not judged relevant; returns counts."""
        kept = 0
        in_corpus = self._in_corpus(d for q in self.qids for d in ranked.get(q, []))
        for q in self.qids:
            judged = self.judged.get(q, set())
            self.negatives[q] = [d for d in ranked.get(q, []) if d not in judged and d in in_corpus]
            kept += len(self.negatives[q])
        empty = sum(1 for q in self.qids if not self.negatives[q])
        return {"queries": len(self.qids), "negatives": kept, "queries_without_negatives": empty}

    # -- batches ------------------------------------------------------------------------------
    def batch(self, step: int, size: int, seed: int, num_negatives: int = 0) -> list[Example]:
        """The global batch of ``step``: ``size`` distinct queries, each with one positive and
        ``num_negatives`` hard negatives (random judged-free corpus docs fill in where mining found too few)."""
        if self.triples is not None:
            return self._triples_batch(step, size, seed, num_negatives)
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
            out.append(Example(q, pos, self._negatives(rng, self.judged.get(q, set()), self.negatives.get(q, []),
                                                       num_negatives, pos)))
        return out

    def _negatives(self, rng, judged: set, pool, num_negatives: int, positive: str) -> tuple[str, ...]:
        if not num_negatives:
            return ()
        negs = rng.sample(pool, min(num_negatives, len(pool)))
        while len(negs) < num_negatives:
            d = rng.choice(self._docids())
            if d not in judged and d not in negs and d != positive:
                negs.append(d)
        return tuple(negs)

    def _triples_batch(self, step: int, size: int, seed: int, num_negatives: int) -> list[Example]:
        """``size`` rows of the triples file at positions ``a * i + b (mod n)`` of epoch ``step // per_epoch``:
        a seeded permutation of the file that needs no memory; each row gives its query, one of its positives
        and its own negatives (``--negatives triples``) or the mined / run ones."""
        n = len(self.triples)
        per_epoch = n // size
        if per_epoch == 0:
            raise TrainingDataError(f"{self.triples.path}: batch size {size} is larger than its {n} rows")
        epoch, k = divmod(step, per_epoch)
        er = _rng(seed, "triples-epoch", epoch)
        a = er.randrange(1, n) if n > 1 else 1
        while math.gcd(a, n) != 1:
            a += 1
        b = er.randrange(n)
        rng = _rng(seed, "step", step)
        out = []
        for i in range(k * size, (k + 1) * size):
            row = self.triples.row((a * i + b) % n)
            if row.qid not in self.topics:
                if row.query is None:
                    raise TrainingDataError(f"{self.triples.path}: query {row.qid!r} has no text, neither in "
                                            f"{self.name} nor in its row")
                self.topics[row.qid] = row.query
            pos = rng.choice(row.positives)
            judged = self.judged.get(row.qid, set()) | set(row.positives)
            pool = [d for d in row.negatives if d not in judged] if self.negatives_from_triples \
                else self.negatives.get(row.qid, [])
            out.append(Example(row.qid, pos, self._negatives(rng, judged, pool, num_negatives, pos)))
        return out

    #: with triples: take each row's own negatives (``--negatives triples``) rather than mined / run ones
    negatives_from_triples = True

    def _docids(self):
        """All docids in sorted order (a sequence: the docstore's memory-mapped ids, or a list for a dict)."""
        if not hasattr(self, "_docid_list"):
            ids = getattr(self.corpus, "sorted_ids", None)
            self._docid_list = ids if ids is not None else sorted(self.corpus)
        return self._docid_list

    def exclude_mask(self, examples: list[Example]):
        """[B, P] bool: passage j is judged relevant to query i but is not its own positive (never a negative)."""
        import torch

        docids = [d for e in examples for d in e.docids]
        width = 1 + len(examples[0].negatives)
        m = torch.zeros(len(examples), len(docids), dtype=torch.bool)
        batch_positives: dict[str, set[str]] = {}  # two triples of one query in a batch: neither positive is a negative
        for e in examples:
            batch_positives.setdefault(e.qid, set()).add(e.positive)
        for i, e in enumerate(examples):
            judged = self.judged.get(e.qid, set()) | batch_positives[e.qid]
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


def read_run_negatives(path, qids, depth: int) -> dict[str, list[str]]:
    """Top-``depth`` docids per query of ``qids`` from a TREC (``qid Q0 docid rank score tag``) or MS MARCO
    (``qid<TAB>docid<TAB>rank``) run file, by score (TREC) or rank (MS MARCO); other queries are skipped while
    reading, so a run over far more queries costs no memory. A malformed line is an error with file and line."""
    wanted, hits, n = set(qids), {}, 0
    with open(path, "rb") as f:  # decoded line by line, so a bad byte is reported at its own line
        try:
            for n, raw in enumerate(f, 1):
                parts = raw.decode("utf-8").split()
                if not parts:
                    continue
                if len(parts) == 6:
                    key = -float(parts[4])
                elif len(parts) == 3:
                    key = float(parts[2])
                else:
                    raise TrainingDataError(f"{path}, line {n}: expected a TREC run line 'qid Q0 docid rank score tag' "
                                            f"or an MS MARCO one 'qid docid rank', got {len(parts)} fields")
                if not math.isfinite(key):
                    raise TrainingDataError(f"{path}, line {n}: score {parts[4]!r} is not a finite number")
                if parts[0] in wanted:
                    hits.setdefault(parts[0], []).append((key, parts[2 if len(parts) == 6 else 1]))
        except UnicodeDecodeError as e:
            raise TrainingDataError(f"{path}, line {n}: not UTF-8 text ({e.reason})") from None
        except ValueError as e:
            if isinstance(e, TrainingDataError):
                raise
            raise TrainingDataError(f"{path}, line {n}: a rank or score that is not a number ({e})") from None
    return {q: [d for _, d in sorted(h)[:depth]] for q, h in hits.items()}
