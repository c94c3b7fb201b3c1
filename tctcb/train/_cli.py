"""``python -m tctcb.train teacher|distill ...``: build data, models, negatives, teacher scores; run the trainer.
``python -m tctcb.train interpolate ...``: two checkpoints mixed in weight space (no training)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from tctcb._command import command
from tctcb.train._config import (DistillConfig, InterpolateConfig, TeacherConfig, TrainConfig, build_parser,
                                 check_numbers, config_from_args, field_defaults)
from tctcb.train._data import (TrainingData, mine_bm25_negatives, read_run_negatives,
                               resolve_topic_set)
from tctcb.train._trainer import Trainer, TrainingError, latest_checkpoint

__all__ = ["main", "run"]


def _negatives_source(cfg: TrainConfig) -> None:
    """``--negatives-run RUN`` alone means ``--negatives run``; ``--triples`` alone means each triple's own
    negatives (``--num-negatives 0``: in-batch only). Recorded in the config, so the checkpoint says what ran."""
    if cfg.negatives_run and cfg.negatives == "in-batch":
        cfg.negatives = "run"
    if cfg.triples and cfg.negatives == "in-batch" and cfg.num_negatives > 0:
        cfg.negatives = "triples"


def _check(cfg: TrainConfig) -> None:
    check_numbers(cfg)
    bad = []
    if cfg.resume and cfg.overwrite:
        bad.append("--resume continues the run in --output, --overwrite deletes it: give one")
    if cfg.negatives_run and cfg.negatives != "run":
        bad.append(f"--negatives-run takes the negatives from a run file: it cannot go with --negatives {cfg.negatives}")
    if cfg.negatives == "run" and not cfg.negatives_run:
        bad.append("--negatives run needs --negatives-run RUN_FILE")
    if cfg.negatives_run and not Path(cfg.negatives_run).is_file():
        bad.append(f"--negatives-run {cfg.negatives_run}: file not found")
    if cfg.negatives == "triples" and not cfg.triples:
        bad.append("--negatives triples needs --triples FILE")
    if cfg.triples and not Path(cfg.triples).is_file():
        bad.append(f"--triples {cfg.triples}: file not found")
    if cfg.mine_with:
        if cfg.negatives != "dense":
            bad.append(f"--mine-with applies to --negatives dense, not --negatives {cfg.negatives}")
        elif not (Path(cfg.mine_with) / "config.json").is_file():
            bad.append(f"--mine-with {cfg.mine_with}: not a model checkpoint folder (no config.json there)")
        elif _colbert_layout(cfg.mine_with) is not None:
            bad.append(f"--mine-with {cfg.mine_with}: a ColBERT teacher checkpoint; mining needs a single-vector "
                       "model (a TCT-ColBERT student or a sentence-transformers folder)")
    if isinstance(cfg, DistillConfig):
        if cfg.student_format == "tct" and cfg.student_scale != field_defaults(DistillConfig)["student_scale"]:
            bad.append("--student-scale scales a normalised student's cosines (--student-format mean); a tct student's "
                       "dot products are never scaled: drop it, or add --student-format mean")
        if cfg.kd == "pairwise" and cfg.negatives == "in-batch":
            bad.append("--kd pairwise scores each query's own positive and hard negatives: it needs --negatives bm25|dense")
        if cfg.kd == "in-batch" and cfg.teacher_scores == "precomputed":
            bad.append("--teacher-scores precomputed scores each query's own passages once before training (loose "
                       "coupling), so it cannot give --kd in-batch's scores of every in-batch pair: use --kd pairwise "
                       "with it, or --teacher-scores live")
        if cfg.kd == "none" and (cfg.teacher_scores != "live" or cfg.teacher_scores_file):
            bad.append("--kd none trains on hard labels only: --teacher-scores/--teacher-scores-file would be unused")
        if cfg.teacher_scores_file and cfg.teacher_scores != "precomputed":
            bad.append("--teacher-scores-file goes with --teacher-scores precomputed")
        if cfg.anchor_only and (cfg.kd != "none" or not cfg.anchor_weight > 0):
            bad.append("--anchor-only trains on the anchor term alone: it needs --kd none and --anchor-weight > 0")
        needs_teacher = (cfg.kd != "none" and not cfg.teacher_scores_file) or cfg.init == "teacher"
        if needs_teacher and not cfg.teacher:
            bad.append("--teacher DIR is required (for soft labels or --init teacher)")
        if (cfg.init == "teacher" and cfg.teacher and cfg.student_format == "tct"  # (mean writes no markers)
                and _colbert_layout(cfg.teacher) == "pylate"):
            problem = _student_marker_problem(cfg.teacher)
            bad += [problem] if problem else []
    if bad:
        raise TrainingError("; ".join(bad))


#: what a run writes into --output (and --overwrite deletes); anything else there is left alone
RUN_OUTPUTS = ("model", "best", "checkpoints", "log.jsonl", "teacher_scores.tsv")


def _prepare_output(cfg: TrainConfig, log) -> None:
    """Refuse an --output that holds an earlier run unless --resume (continue it) or --overwrite (delete it)."""
    import shutil

    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise TrainingError(f"--output {out} is a file, not a folder")
    found = [n for n in RUN_OUTPUTS if (out / n).exists()]
    if not found or cfg.resume:
        return
    if not cfg.overwrite:
        raise TrainingError(f"--output {out} holds an earlier run ({', '.join(found)}): pass --resume auto to continue "
                            "it, --overwrite to delete it and start again, or choose another --output")
    log(f"--overwrite: deleting {', '.join(found)} in {out}")
    for n in found:
        if (out / n).is_dir():
            shutil.rmtree(out / n)
        else:
            (out / n).unlink()


def _miner(cfg: TrainConfig) -> tuple[Path, str]:
    """(model folder, pooling) that mines dense negatives: ``--mine-with`` in its own format (its record; else
    ``st`` = mean if the folder has ``modules.json``, else a TCT-ColBERT checkpoint), or the backbone in format
    mean (``st``: the name the negatives cache keys were made with)."""
    if not cfg.mine_with:
        from tctcb.models import default_backbone_dir

        return (Path(cfg.backbone) if cfg.backbone else default_backbone_dir()), "st"
    from tctcb.encode import query_encoder_pooling

    path = Path(cfg.mine_with)
    return path, query_encoder_pooling(path, None, None)


def _model_tag(path: Path, pooling: str) -> str:
    """Short key of a model folder for the negatives cache: its path, pooling and weight files' times and sizes
    (a student retrained into the same folder gets a new key)."""
    import hashlib

    from tctcb.models import STUDENT_CONFIG

    parts = [str(path.resolve()), pooling]
    if pooling == "tct" or (path / STUDENT_CONFIG).is_file():  # a trained student (either format), not a fixed backbone
        for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def _corpus_tag(cfg: TrainConfig) -> str:
    """'' for a built-in collection; ``.KEY`` for a user dataset, whose cached negatives must change with its corpus."""
    from tctcb.data import get_collection

    name = get_collection(cfg.collection).cache_name
    return "" if name == cfg.collection else "." + name.rsplit(".", 1)[-1]


def _mine(cfg: TrainConfig, data: TrainingData, log) -> None:
    data.negatives_from_triples = cfg.negatives == "triples"
    if cfg.negatives in ("in-batch", "triples"):
        return
    from tctcb.data import cache_dir

    if cfg.negatives == "run":
        log(f"hard negatives from the run file {cfg.negatives_run} (top {cfg.negative_depth} per query)")
        counts = data.set_negatives(read_run_negatives(cfg.negatives_run, data.qids, cfg.negative_depth))
        log(f"hard negatives (run): {counts}")
        return

    key = f"{data.name}{_corpus_tag(cfg)}-{cfg.negatives}-{cfg.negative_depth}"
    if cfg.negatives == "bm25":
        cache = cache_dir() / "train" / f"negatives-{key}.json"
        ranked = mine_bm25_negatives(cfg.collection, {q: data.topics[q] for q in data.qids}, cfg.negative_depth, cache, log)
    else:
        from tctcb.train._retrieval import mine_dense_negatives

        miner, pooling = _miner(cfg)
        cache = cache_dir() / "train" / f"negatives-{key}-{miner.name}-{_model_tag(miner, pooling)}.json"
        how = "TCT-ColBERT encoding" if pooling == "tct" else "format mean: normalised mean pooling"
        log(f"mining dense negatives with {miner} ({how}), top {cfg.negative_depth}")
        ranked = mine_dense_negatives(miner, data.corpus, {q: data.topics[q] for q in data.qids}, cfg.negative_depth,
                                      cache, cfg.quiet, pooling=pooling)
    counts = data.set_negatives(ranked)
    log(f"hard negatives ({cfg.negatives}): {counts}")


def _training_data(cfg: TrainConfig, log):
    """(training data with its hard negatives, dev set or None). Fills caches on first use (the corpus store,
    the Lucene index, mined negatives, the dev set's BM25 candidates): under torchrun rank 0 runs it first, as
    two processes writing one cache entry at once break it."""
    from tctcb.train._retrieval import DevSet

    topic_set = resolve_topic_set(cfg.collection, cfg.split)
    data = TrainingData.from_registry(cfg.collection, topic_set, cfg.min_relevance, log=log, triples=cfg.triples)
    if data.triples is not None:
        log(f"{topic_set}: {len(data.triples)} triples of {len(data.qids)} queries ({data.triples.format}), "
            f"{len(data.corpus)} docs")
    else:
        log(f"{topic_set}: {len(data.qids)} training queries, {sum(map(len, data.positives.values()))} positive "
            f"pairs, {len(data.corpus)} docs")
    _mine(cfg, data, log)
    dev = None
    if cfg.dev_split and cfg.dev_split != "none":
        from tctcb.data import cache_dir

        dev_set = resolve_topic_set(cfg.collection, cfg.dev_split)
        dev = DevSet(cfg.collection, dev_set, data.corpus, cfg.dev_queries, cfg.dev_depth,
                     cache_dir() / "train" / f"dev-bm25-{dev_set}{_corpus_tag(cfg)}-{cfg.dev_queries}-{cfg.dev_depth}.json",
                     cfg.quiet)
        if isinstance(cfg, TeacherConfig) or cfg.dev_mode == "rerank":
            dev.bm25_candidates()  # (else at the first evaluation, in every process at once)
        shared = set(dev.qids) & set(data.qids)
        if shared:  # e.g. scifact-train with scifact-dev, which is part of it: train on scifact-train-nodev
            log(f"warning: {len(shared)} of the {len(dev.qids)} dev queries ({dev_set}) are training queries "
                f"({topic_set}): dev scores will flatter the model (for SciFact: --split train-nodev --dev-split dev)")
    return data, dev


def _colbert_layout(path) -> str | None:
    """The ColBERT checkpoint layout of ``path`` (tctcb's, the ColBERT repo's, PyLate's), None for other folders."""
    from tctcb.models import ColBERT

    return ColBERT.layout_of(path)


def _student_marker_problem(teacher: str) -> str | None:
    """``--init teacher``: the student writes TCT-ColBERT's markers as text (``'[CLS] [Q] '``: ``[Q]`` in word
    pieces); a teacher tokenizer holding a marker as an added token (PyLate's query/document prefixes, e.g.
    ``'[Q] '``) would read it as that one token, and the student would silently leave TCT-ColBERT's format.
    Says so, or None (also when the tokenizer does not load: loading the teacher later says why)."""
    from tctcb.models import load_tokenizer

    try:
        tok = load_tokenizer(teacher, "bert")  # the student is a BERT, loaded as load_backbone loads it
    except Exception:
        return None
    for marker in ("[Q]", "[D]"):
        pieces = tok.tokenize(f"{tok.cls_token} {marker} x", add_special_tokens=False)[1:-1]
        if "".join(pieces).lower() != marker.lower() or len(pieces) < 2:
            return (f"--init teacher: {teacher}'s tokenizer reads {marker!r} as {pieces} (an added token, as PyLate's "
                    f"prefixes are), not as word pieces: the student would not be in TCT-ColBERT's format; use "
                    f"--init backbone")
    return None


def run(cfg: TrainConfig, log=None) -> dict:
    """Train as ``cfg`` says; returns the trainer's summary (final model directory, best dev score)."""
    import torch

    from tctcb.models import ColBERT, TctColBert
    from tctcb.train._distributed import barrier, init_from_env, is_main, rank_and_world
    from tctcb.train._retrieval import read_scores
    from tctcb.train._steps import precompute_teacher_scores
    from tctcb.models import PassageVectorCache, pick_device
    from tctcb.train._trainer import planned_batch

    if log is None:
        def log(m):  # one process speaks under torchrun
            if os.environ.get("RANK", "0") == "0":
                print(m, file=sys.stderr)
    _negatives_source(cfg)
    _check(cfg)
    if os.environ.get("RANK", "0") == "0":
        _prepare_output(cfg, log)
    init_from_env(pick_device(cfg.device))
    torch.manual_seed(cfg.seed)
    out = Path(cfg.output_dir)
    if not is_main():
        barrier()  # under torchrun the others wait while rank 0 fills the caches, then read them
    data, dev = _training_data(cfg, log)
    if is_main():
        barrier()
    backbone = cfg.backbone or None
    teacher = table = None
    if isinstance(cfg, TeacherConfig):
        from tctcb.models import ColBERTConfig

        lengths = {"dim": cfg.dim, "query_maxlen": cfg.query_length, "doc_maxlen": cfg.passage_length}
        config = ColBERTConfig.colbert_repo(**lengths) if cfg.markers == "token" else ColBERTConfig(**lengths)
        model = ColBERT.from_backbone(backbone, config, seed=cfg.seed)
        load = ColBERT.from_pretrained
    else:
        import functools

        model = TctColBert.from_pretrained(cfg.teacher if cfg.init == "teacher" else backbone, cfg.student_format)
        load = functools.partial(TctColBert.from_pretrained, student_format=cfg.student_format)
        scale = f", in-batch scores x {cfg.student_scale} (--student-scale)" if model.normalized else ""
        log(f"student format: {model.fmt.format} ({model.fmt.source}; recorded limits: queries "
            f"{model.fmt.query_max_length}, documents {model.fmt.doc_max_length} tokens; training passages: "
            f"--passage-length {cfg.passage_length}){scale}")
        if cfg.kd != "none":
            if cfg.teacher_scores == "live":
                teacher = ColBERT.from_pretrained(cfg.teacher)
            else:
                path = Path(cfg.teacher_scores_file) if cfg.teacher_scores_file else out / "teacher_scores.tsv"
                if not path.is_file() and is_main():
                    t = ColBERT.from_pretrained(cfg.teacher).to(pick_device(cfg.device))
                    world = rank_and_world()[1]
                    batches = [planned_batch(cfg, data, s, world) for s in range(cfg.max_steps)]
                    out.mkdir(parents=True, exist_ok=True)
                    log(f"precomputing teacher scores for the {cfg.max_steps} planned batches -> {path}")
                    precompute_teacher_scores(t, data, batches, path, cfg.quiet,
                                              PassageVectorCache(t, max_mb=cfg.teacher_cache_mb))
                    del t
                barrier()  # the other processes wait for the file
                table = read_scores(path)
    anchor = None
    if isinstance(cfg, DistillConfig) and cfg.anchor_weight > 0:
        from tctcb.train._anchor import StAnchor

        anchor = StAnchor.from_pretrained(backbone)  # the backbone in its own form, frozen
        if anchor.bert.config.hidden_size != model.dimension:
            raise TrainingError(f"--anchor-weight: the backbone's hidden size {anchor.bert.config.hidden_size} differs "
                                f"from the student's {model.dimension} (--init teacher from another backbone?)")
    trainer = Trainer(cfg, data, model, teacher=teacher, table=table, dev=dev, anchor=anchor)
    if cfg.resume:
        ckpt = latest_checkpoint(out) if cfg.resume == "auto" else Path(cfg.resume)
        if ckpt is None:
            log(f"--resume auto: no finished checkpoint in {out / 'checkpoints'} yet: starting at step 0")
        else:
            trainer.resume_from(ckpt, load)
            log(f"resumed from {ckpt} at step {trainer.step}")
        trainer.trim_log()  # records of steps after the checkpoint are redone: the log keeps one of each
    summary = trainer.train()
    log(f"done: {summary}")
    return summary


def _interpolate(cfg: InterpolateConfig) -> int:
    from tctcb.models import interpolate_checkpoints

    out = interpolate_checkpoints(cfg.start, cfg.end, cfg.alpha, cfg.output_dir)
    print(f"wrote {out}: (1 - {cfg.alpha}) * {cfg.start} + {cfg.alpha} * {cfg.end}", file=sys.stderr)
    return 0


@command
def main(argv: list[str] | None = None) -> int:
    cfg = config_from_args(build_parser().parse_args(argv))
    if isinstance(cfg, InterpolateConfig):
        return _interpolate(cfg)
    run(cfg)
    return 0
