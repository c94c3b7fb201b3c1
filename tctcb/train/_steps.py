"""One training step's loss, for the teacher (ColBERT, CE) and for the student (TCT-ColBERT, CE + KD), and the
teacher's scores that KD learns from: live inside the step (tight coupling) or computed once before training
(loose coupling), by the one function :func:`score_pairs`.

The batch is global (the same on every process); each process encodes its slice through ``forward``
(:func:`tctcb.train._distributed.data_parallel`: the model itself, or under torchrun the model inside
DistributedDataParallel), the slices are gathered (local part with gradient) and every process computes the
loss over the whole batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tctcb.models import PassageVectorCache, maxsim, maxsim_all, pad_token_vectors
from tctcb.train._anchor import anchor_loss
from tctcb.train._config import DistillConfig
from tctcb.train._data import Example, TrainingData, _rng
from tctcb.train._distributed import gather_padded, gather_with_grad, rank_and_world
from tctcb.train.losses import DistillKLDivLoss, InBatchCrossEntropyLoss

__all__ = ["StepOutput", "local_slice", "teacher_step_loss", "student_step_loss", "kd_candidates", "score_pairs",
           "teacher_scores", "precompute_teacher_scores", "precomputed_scores", "student_scale"]


@dataclass
class StepOutput:
    loss: torch.Tensor
    scores: torch.Tensor               # [B, P] global scores of the model being trained
    stats: dict


def local_slice(examples: list[Example]) -> list[Example]:
    rank, world = rank_and_world()
    if len(examples) % world:
        raise ValueError(f"global batch of {len(examples)} queries does not split over {world} processes")
    n = len(examples) // world
    return examples[rank * n:(rank + 1) * n]


def _texts(data: TrainingData, examples: list[Example]) -> tuple[list[str], list[str]]:
    return [data.topics[e.qid] for e in examples], [data.corpus[d] for e in examples for d in e.docids]


def _labels(examples: list[Example], device) -> torch.Tensor:
    width = 1 + len(examples[0].negatives)
    return torch.arange(len(examples), device=device) * width


def _encode_colbert(model, qs: list[str], ps: list[str]):
    return (*model.encode_query(qs), *model.encode_passage(ps))


def _encode_student(model, qs: list[str], ps: list[str], passage_length: int):
    return model.encode_query(qs), model.encode_passage(ps, max_length=passage_length)


def teacher_step_loss(forward, data: TrainingData, examples: list[Example], ce: InBatchCrossEntropyLoss) -> StepOutput:
    """ColBERT: CE of each query's positive against every passage of the global batch. ``forward``: the
    ColBERT being trained, through :func:`~tctcb.train._distributed.data_parallel`."""
    qs, ps = _texts(data, local_slice(examples))
    qv, qm, dv, dm = forward(_encode_colbert, qs, ps)
    qv, qm = gather_with_grad(qv), gather_with_grad(qm)
    dv, dm = gather_padded(dv, 1), gather_padded(dm, 1)
    scores = maxsim_all(qv, qm, dv, dm).float()
    exclude = data.exclude_mask(examples).to(scores.device)
    loss = ce(scores, _labels(examples, scores.device), exclude)
    return StepOutput(loss, scores, {"ce": float(loss.detach())})


def kd_candidates(kd: str, examples: list[Example], subsample: int, seed: int, step: int) -> torch.Tensor:
    """[B, P] bool: which (query, passage) pairs the teacher scores and the KL covers."""
    width = 1 + len(examples[0].negatives)
    b, p = len(examples), len(examples) * width
    own = torch.zeros(b, p, dtype=torch.bool)
    for i in range(b):
        own[i, i * width:(i + 1) * width] = True
    if kd == "pairwise":
        return own
    if kd != "in-batch":
        raise ValueError(f"unknown kd {kd!r}")
    if not subsample or subsample >= p - width:
        return torch.ones(b, p, dtype=torch.bool)
    mask = own.clone()
    for i in range(b):
        others = [j for j in range(p) if not own[i, j]]
        mask[i, _rng(seed, "subsample", step, i).sample(others, subsample)] = True
    return mask


@torch.no_grad()
def score_pairs(teacher, queries: list[str], passages: list[str], candidates: torch.Tensor | None = None,
                gather: bool = False, chunk: int = 256, cache: PassageVectorCache | None = None,
                docids: list[str] | None = None) -> torch.Tensor:
    """The frozen ColBERT teacher's MaxSim scores of ``queries`` x ``passages``: [Q, P] float, 0 where
    ``candidates`` [Q, P] is False (None: every pair).  ``gather``: the texts are this process's slice of a
    global batch and the token vectors of every process are gathered first (the scores are the whole batch's).
    The one teacher scoring, live inside the step (:func:`teacher_scores`) and before training
    (:func:`precompute_teacher_scores`).  ``cache`` (with the passages' ``docids``): passage token vectors
    encoded in an earlier step are reused (:class:`~tctcb.models.PassageVectorCache`: the teacher is frozen, so
    the scores are the same)."""
    qv, qm = teacher.encode_query(queries)
    if cache is None:
        dv, dm = teacher.encode_passage(passages)
    else:
        dv, dm = pad_token_vectors(cache.get(docids, passages), qv.device)
    if gather:
        qv, qm = gather_with_grad(qv), gather_with_grad(qm)
        dv, dm = gather_padded(dv, 1), gather_padded(dm, 1)
    cand = None if candidates is None else candidates.to(qv.device)
    if cand is None or bool(cand.all()):
        return maxsim_all(qv, qm, dv, dm).float()
    out = torch.zeros(cand.shape, dtype=torch.float32, device=qv.device)
    pairs = cand.nonzero()
    for s in range(0, len(pairs), chunk):
        i, j = pairs[s:s + chunk, 0], pairs[s:s + chunk, 1]
        out[i, j] = maxsim(qv[i], qm[i], dv[j], dm[j]).float()
    return out


def teacher_scores(teacher, data: TrainingData, examples: list[Example], candidates: torch.Tensor,
                   cache: PassageVectorCache | None = None) -> torch.Tensor:
    """Live teacher (tight coupling): the candidate pairs of the global batch, [B, P] float, 0 where not a
    candidate. Each process encodes its slice (passages through ``cache`` if given); token vectors are gathered."""
    mine = local_slice(examples)
    return score_pairs(teacher, *_texts(data, mine), candidates, gather=True, cache=cache,
                       docids=[d for e in mine for d in e.docids])


def precompute_teacher_scores(teacher, data: TrainingData, batches: list[list[Example]], path: Path,
                              quiet: bool = True, cache: PassageVectorCache | None = None,
                              pairs_per_call: int = 512) -> dict[tuple[str, str], float]:
    """Loose coupling: before training, the teacher scores each query against its own passages (positive and
    hard negatives) of every batch the run will see (each pair once); written as TSV ``qid docid score``.
    The pairs are scored grouped by query, about ``pairs_per_call`` at a time (each query and passage of a group
    encoded once, passages 32 at a time; ``cache`` keeps passage vectors across groups, None keeps none), through
    :func:`score_pairs`: the scores the live teacher gives the same pairs, up to float rounding."""
    from tqdm.auto import tqdm

    from tctcb.train._retrieval import write_scores

    teacher.eval()
    cache = PassageVectorCache(teacher, max_items=0) if cache is None else cache  # batches passages, keeps none
    by_query: dict[str, list[str]] = {}
    for examples in batches:
        for e in examples:
            docs = by_query.setdefault(e.qid, [])
            docs.extend(d for d in e.docids if d not in docs)
    groups, group, size = [], [], 0
    for qid, docs in by_query.items():
        group.append(qid)
        size += len(docs)
        if size >= pairs_per_call:
            groups.append(group)
            group, size = [], 0
    groups += [group] if group else []
    table: dict[tuple[str, str], float] = {}
    with torch.no_grad():
        for qids in tqdm(groups, desc="teacher scores", disable=quiet, leave=False):
            docids = sorted({d for q in qids for d in by_query[q]}, key=lambda d: (len(data.corpus[d]), d))
            column = {d: j for j, d in enumerate(docids)}
            candidates = torch.zeros(len(qids), len(docids), dtype=torch.bool)
            for i, q in enumerate(qids):
                candidates[i, [column[d] for d in by_query[q]]] = True
            scores = score_pairs(teacher, [data.topics[q] for q in qids], [data.corpus[d] for d in docids],
                                 candidates, cache=cache, docids=docids).cpu()
            for i, q in enumerate(qids):
                table.update(((q, d), float(scores[i, column[d]])) for d in by_query[q])
    write_scores(((q, d, s) for (q, d), s in table.items()), path)
    return table


def precomputed_scores(table: dict[tuple[str, str], float], examples: list[Example],
                       candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Loose coupling: look the pairs up in scores computed before training; pairs not in the file drop out."""
    docids = [d for e in examples for d in e.docids]
    out = torch.zeros(candidates.shape, dtype=torch.float32)
    have = torch.zeros_like(candidates)
    for i, e in enumerate(examples):
        for j, d in enumerate(docids):
            if candidates[i, j]:
                s = table.get((e.qid, d))
                if s is not None:
                    out[i, j], have[i, j] = s, True
    return out, have


def student_step_loss(forward, data: TrainingData, examples: list[Example], cfg: DistillConfig, step: int = 0, *,
                      ce: InBatchCrossEntropyLoss, kl: DistillKLDivLoss | None = None, teacher=None, table=None,
                      anchor=None, cache: PassageVectorCache | None = None) -> StepOutput:
    """Over the student's in-batch scores (``q @ p.T``, times ``cfg.student_scale`` for a ``mean`` student:
    :func:`student_scale`): ``cfg.gamma`` * CE(hard labels over the global batch) + (1 - ``cfg.gamma``) * KL(teacher || student) over the
    KD candidates (``cfg.kd``, ``cfg.subsample``) [+ ``cfg.anchor_weight`` * anchor term of the student's query and
    passage embeddings against the frozen ``anchor``'s]; ``cfg.anchor_only``: the anchor term alone (CE is still
    computed and logged, not learned from).  ``forward``: the student, through
    :func:`~tctcb.train._distributed.data_parallel`; soft labels from the live ``teacher`` or from ``table``
    (precomputed scores ``{(qid, docid): score}``); ``cache``: the live teacher's passage vectors of earlier steps."""
    qs, ps = _texts(data, local_slice(examples))
    q, p = forward(_encode_student, qs, ps, cfg.passage_length)
    q, p = gather_with_grad(q), gather_with_grad(p)
    scores = (q @ p.T).float() * student_scale(cfg)
    exclude = data.exclude_mask(examples).to(scores.device)
    ce_loss = ce(scores, _labels(examples, scores.device), exclude)
    stats = {"ce": float(ce_loss.detach())}
    extra = 0.0
    if anchor is not None and cfg.anchor_weight > 0:
        qa = gather_with_grad(anchor.encode(qs).to(q.device))
        pa = gather_with_grad(anchor.encode(ps, max_length=cfg.passage_length).to(p.device))
        a_loss = (anchor_loss(q, qa, cfg.anchor_loss, cfg.anchor_norm)
                  + anchor_loss(p, pa, cfg.anchor_loss, cfg.anchor_norm))
        stats["anchor"] = float(a_loss.detach())
        extra = cfg.anchor_weight * a_loss
    if cfg.anchor_only:
        if cfg.kd != "none" or anchor is None or not cfg.anchor_weight > 0:
            raise ValueError("anchor_only needs kd 'none' and an anchor with a weight > 0")
        return StepOutput(extra, scores, stats)
    if cfg.kd == "none":
        return StepOutput(ce_loss + extra, scores, stats)
    cand = kd_candidates(cfg.kd, examples, cfg.subsample, cfg.seed, step)
    if table is not None:
        t, have = precomputed_scores(table, examples, cand)
        cand = cand & have
    else:
        t = teacher_scores(teacher, data, examples, cand, cache)
    t, cand = t.to(scores.device), cand.to(scores.device)
    kl_loss = kl(scores, t, cand)
    stats["kl"] = float(kl_loss.detach())
    stats["kd_pairs"] = int(cand.sum())  # precomputed: pairs missing from the file drop out, visible here
    stats["agreement"] = agreement(scores.detach(), t, cand)
    return StepOutput(cfg.gamma * ce_loss + (1 - cfg.gamma) * kl_loss + extra, scores, stats)


def student_scale(cfg: DistillConfig) -> float:
    """The factor on the student's in-batch scores: ``cfg.student_scale`` for a normalised (``mean``) student,
    whose scores are cosines; 1 for ``tct`` (raw dot products, as before the setting existed)."""
    return float(cfg.student_scale) if cfg.student_format == "mean" else 1.0


def agreement(student: torch.Tensor, teacher: torch.Tensor, candidates: torch.Tensor) -> float | None:
    """Share of queries (with >= 2 candidates) whose top candidate is the same for teacher and student."""
    rows = candidates.sum(1) >= 2
    if not bool(rows.any()):
        return None
    s = student[rows].masked_fill(~candidates[rows], float("-inf")).argmax(1)
    t = teacher[rows].masked_fill(~candidates[rows], float("-inf")).argmax(1)
    return float((s == t).float().mean())
