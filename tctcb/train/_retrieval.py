"""Retrieval inside training: dev nDCG@10 (student: dense retrieval over the corpus; teacher: MaxSim
reranking of BM25's top N), dense hard-negative mining, and the precomputed teacher scores file."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import torch

from tctcb._atomic import atomic_open, write_text

__all__ = ["DevSet", "encode_corpus", "dense_rank", "mine_dense_negatives", "read_scores",
           "write_scores"]


def _progress(it, total, desc, quiet):
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, disable=quiet, leave=False)


@torch.no_grad()
def encode_corpus(encode, texts: list[str], batch_size: int = 32, quiet: bool = True, desc="encoding") -> torch.Tensor:
    """``encode(list[str]) -> [n, d]`` over ``texts`` in batches sorted by length (fewer pad tokens)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[torch.Tensor | None] = [None] * len(texts)
    starts = range(0, len(order), batch_size)
    for s in _progress(starts, len(starts), desc, quiet):
        idx = order[s:s + batch_size]
        vecs = encode([texts[i] for i in idx]).float().cpu()
        for i, v in zip(idx, vecs):
            out[i] = v
    return torch.stack(out) if out else torch.zeros(0)


def dense_rank(qvecs: torch.Tensor, dvecs: torch.Tensor, qids: list[str], docids: list[str], k: int) -> dict:
    """``{qid: {docid: score}}``: each query's top ``k`` passages by inner product (tctcb.index's exact top-k)."""
    from tctcb.index import ExactTopK

    if not docids:
        return {q: {} for q in qids}
    top = ExactTopK(dvecs.float().numpy(), metric_ip=True, device="cpu")
    scores, rows = top.search(qvecs.float().numpy(), min(k, len(docids)), query_chunk=max(1, len(qids)))
    return {q: {docids[j]: float(s) for s, j in zip(scores[i].tolist(), rows[i].tolist())} for i, q in enumerate(qids)}


class DevSet:
    """Dev queries (optionally the first N) with qrels; ``evaluate_student`` / ``evaluate_teacher`` -> nDCG@10."""

    def __init__(self, collection: str, topic_set: str, corpus: dict[str, str], limit: int = 0, depth: int = 100,
                 cache: Path | None = None, quiet: bool = True):
        from tctcb.data import get_qrels, get_topics

        topics, qrels = get_topics(topic_set), get_qrels(topic_set)
        qids = [q for q in topics if q in qrels]
        if not qids:
            from tctcb.train._data import TrainingDataError

            raise TrainingDataError(f"dev topic set {topic_set!r} has no judged queries (empty split)")
        self.qids = qids[:limit] if limit else qids
        self.topics, self.qrels = topics, {q: qrels[q] for q in self.qids}
        self.collection, self.name, self.corpus, self.depth = collection, topic_set, corpus, depth
        self.cache, self.quiet = cache, quiet
        self._bm25 = None

    def _metric(self, run) -> float:
        from tctcb.eval import evaluate

        return evaluate(run, self.qrels, ["nDCG@10"])["nDCG@10"]

    def evaluate_student(self, student, passage_length: int = 180, batch_size: int = 32) -> float:
        was = student.training
        student.eval()
        try:
            docids = list(self.corpus)
            d = encode_corpus(lambda t: student.encode_passage(t, max_length=passage_length),
                              [self.corpus[x] for x in docids], batch_size, self.quiet, "dev corpus")
            q = encode_corpus(student.encode_query, [self.topics[x] for x in self.qids], batch_size, True)
            return self._metric(dense_rank(q, d, self.qids, docids, self.depth))
        finally:
            student.train(was)

    def bm25_candidates(self) -> dict[str, list[str]]:
        if self._bm25 is None:
            from tctcb.train._data import mine_bm25_negatives

            self._bm25 = mine_bm25_negatives(self.collection, {q: self.topics[q] for q in self.qids}, self.depth,
                                             self.cache)
        return self._bm25

    def evaluate_teacher(self, teacher, batch_size: int = 32) -> float:
        """nDCG@10 of the teacher's MaxSim reranking of BM25's top ``depth``."""
        return self._metric(self.teacher_rerank_run(teacher, batch_size))

    @torch.no_grad()
    def student_rerank_run(self, student, passage_length: int = 180, batch_size: int = 32) -> dict:
        """The student's dot-product reranking of BM25's top ``depth`` (each candidate doc encoded once)."""
        was = student.training
        student.eval()
        try:
            cands = self.bm25_candidates()
            pool = sorted({d for q in self.qids for d in cands.get(q, [])})
            d = encode_corpus(lambda t: student.encode_passage(t, max_length=passage_length),
                              [self.corpus[x] for x in pool], batch_size, self.quiet, "rerank pool")
            index = {x: i for i, x in enumerate(pool)}
            q = encode_corpus(student.encode_query, [self.topics[x] for x in self.qids], batch_size, True)
            run = {}
            for i, qid in enumerate(self.qids):
                docs = cands.get(qid, [])
                if docs:
                    s = d[[index[x] for x in docs]] @ q[i]
                    run[qid] = dict(zip(docs, s.tolist()))
            return run
        finally:
            student.train(was)

    @torch.no_grad()
    def teacher_rerank_run(self, teacher, batch_size: int = 32) -> dict:
        """MaxSim reranking of BM25's top ``depth`` for each query (each candidate doc encoded once)."""
        was = teacher.training
        teacher.eval()
        try:
            cands = self.bm25_candidates()
            pool = sorted({d for q in self.qids for d in cands.get(q, [])})
            order = sorted(pool, key=lambda d: len(self.corpus[d]))  # similar lengths per batch
            vecs = {}
            starts = range(0, len(order), batch_size)
            for s in _progress(starts, len(starts), "dev rerank", self.quiet):
                ids = order[s:s + batch_size]
                vecs.update(zip(ids, (v.cpu() for v in teacher.passage_token_vectors([self.corpus[d] for d in ids],
                                                                                       batch_size))))
            run = {}
            for q in self.qids:
                docs = cands.get(q, [])
                if docs:
                    run[q] = dict(zip(docs, teacher.maxsim_scores(self.topics[q], [vecs[d] for d in docs]).tolist()))
            return run
        finally:
            teacher.train(was)


def mine_dense_negatives(backbone, corpus: dict[str, str], topics: dict[str, str], depth: int,
                         cache: Path | None = None, quiet: bool = True, max_length: int = 256,
                         pooling: str = "st") -> dict[str, list[str]]:
    """Top-``depth`` docs per query by a dense model's own ranking, cached as JSON.

    ``pooling="mean"`` (alias ``"st"``): ``backbone`` in format mean (normalised mean pooling, cosine) -- the strongest
    zero-shot dense ranker available offline.  ``pooling="tct"``: ``backbone`` is a TCT-ColBERT student
    checkpoint, encoding exactly as ``python -m tctcb.encode`` / ``tctcb.search`` do (TCT-ColBERT v2 mines
    its hard negatives with an earlier student this way)."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text())
    docids, qids = list(corpus), list(topics)
    if pooling == "tct":
        import numpy as np

        from tctcb.encode import load_document_encoder, load_query_encoder

        denc = load_document_encoder(backbone, "tct")
        chunk = 1024
        starts = range(0, len(docids), chunk)
        d = torch.from_numpy(np.concatenate([denc.encode([corpus[x] for x in docids[s:s + chunk]])
                                             for s in _progress(starts, len(starts), "mining corpus", quiet)]))
        q = torch.from_numpy(load_query_encoder(backbone, "tct").encode_batch([topics[x] for x in qids]))
    elif pooling in ("mean", "st"):
        from tctcb.encode import st_embed
        from tctcb.models import STUDENT_CONFIG, load_backbone, student_format

        model, tok = load_backbone(backbone or None)
        model.eval()
        qlen = 64
        if backbone is not None and (Path(backbone) / STUDENT_CONFIG).is_file():  # a mean student: its own limits
            fmt = student_format(backbone)
            max_length, qlen = min(max_length, fmt.doc_max_length), min(qlen, fmt.query_max_length)
        d = encode_corpus(lambda t: st_embed(model, tok, t, max_length), [corpus[x] for x in docids], 32, quiet,
                          "mining corpus")
        q = encode_corpus(lambda t: st_embed(model, tok, t, qlen), [topics[x] for x in qids], 64, quiet,
                          "mining queries")
    else:
        raise ValueError(f"pooling must be 'mean' (alias 'st') or 'tct', got {pooling!r}")
    run = dense_rank(q, d, qids, docids, depth)
    ranked = {x: list(run[x]) for x in qids}
    if cache is not None:
        write_text(cache, json.dumps(ranked))
    return ranked


def write_scores(rows, path: Path) -> None:
    with atomic_open(path) as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        for q, d, s in rows:
            w.writerow([q, d, f"{s:.6f}"])


def read_scores(path: Path) -> dict[tuple[str, str], float]:
    from tctcb.data import iter_lines
    from tctcb.train._trainer import TrainingError

    table = {}
    for n, line in iter_lines(path):
        row = line.split("\t")
        if len(row) != 3:
            raise TrainingError(f"{path}:{n}: expected 'qid<TAB>docid<TAB>score', got {line[:80]!r}")
        try:
            table[(row[0], row[1])] = float(row[2])
        except ValueError:
            raise TrainingError(f"{path}:{n}: score {row[2]!r} is not a number") from None
        if not math.isfinite(table[(row[0], row[1])]):
            raise TrainingError(f"{path}:{n}: score {row[2]!r} is not a finite number")
    if not table:
        raise TrainingError(f"{path} holds no teacher scores")
    return table
