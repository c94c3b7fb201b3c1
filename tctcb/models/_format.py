"""Student formats, and the record of one kept with each checkpoint (``tctcb_student.json``).

``tct``   castorini's TCT-ColBERT input: ``'[CLS] [Q] '`` / ``'[CLS] [D] '`` written out, queries padded with
          ``[MASK]`` to exactly 36 tokens, mean after the 4 marker tokens, dot product; loads in Pyserini's
          ``TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder``.
``mean``  the backbone's own input (``[CLS] text [SEP]``, no prefixes, no padding tokens), mean over every
          attended token, L2-normalised, cosine (= dot) scores; loads in Pyserini's ``AutoQueryEncoder`` /
          ``AutoDocumentEncoder`` with ``pooling="mean", l2_norm=True``.  The sentence-transformers pooling of
          all-MiniLM-L6-v2, so a sentence-transformers folder *is* a ``mean`` student (the zero-shot encoder,
          once called ``st``: that name is kept as an alias).

The record (``{"format", "query_max_length", "doc_max_length"}``) is written by
:meth:`tctcb.models.TctColBert.save_pretrained` and read wherever a checkpoint is loaded; a folder without one
keeps the rule from before records existed: ``modules.json`` (a sentence-transformers folder) -> ``mean``, else
``tct``.  :func:`student_format` says which, and how it decided.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tctcb._command import UserError

__all__ = ["STUDENT_CONFIG", "STUDENT_FORMATS", "FORMAT_ALIASES", "StudentFormat", "StudentFormatError",
           "student_format", "canonical_format", "st_max_length"]

STUDENT_CONFIG = "tctcb_student.json"
STUDENT_FORMATS = ("tct", "mean")
#: older names still accepted (recorded commands, index meta.json files, ONNX exports): ``st`` is ``mean``
FORMAT_ALIASES = {"st": "mean"}
QUERY_LENGTH = 36  # tct queries are always exactly 36 tokens (Pyserini's TctColBertQueryEncoder)
DOC_MAX_LENGTH = 512  # tct passages: at most 512 tokens


class StudentFormatError(UserError, ValueError):
    """A student format record that cannot be right for its folder, or a format that does not fit the caller."""


def canonical_format(name: str) -> str:
    """``tct`` or ``mean`` for ``name`` (``st`` -> ``mean``); a ValueError for anything else."""
    name = FORMAT_ALIASES.get(name, name)
    if name not in STUDENT_FORMATS:
        raise ValueError(f"student format must be one of {', '.join(STUDENT_FORMATS)} (or st = mean), got {name!r}")
    return name


@dataclass(frozen=True)
class StudentFormat:
    """A student's format and input limits; ``source`` says where it was read from (not recorded)."""

    format: str = "tct"
    query_max_length: int = QUERY_LENGTH
    doc_max_length: int = DOC_MAX_LENGTH
    source: str = "default"

    @property
    def normalized(self) -> bool:
        """Unit-length embeddings (cosine scores): ``mean``."""
        return self.format == "mean"

    def record(self) -> dict:
        """What ``tctcb_student.json`` holds."""
        d = asdict(self)
        d.pop("source")
        return d

    def write(self, directory: str | Path) -> Path:
        path = Path(directory) / STUDENT_CONFIG
        path.write_text(json.dumps(self.record(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def for_folder(cls, fmt: str, directory: str | Path | None, source: str) -> "StudentFormat":
        """``fmt`` with the input limits a folder implies: ``tct`` 36 / 512 tokens (Pyserini's); ``mean``
        the sentence-transformers ``max_seq_length`` for both (all-MiniLM-L6-v2: 256), else 512, at most the
        model's ``max_position_embeddings``."""
        fmt = canonical_format(fmt)
        if fmt == "tct":
            return cls("tct", QUERY_LENGTH, DOC_MAX_LENGTH, source)
        n = st_max_length(directory)
        limit = _max_positions(directory)
        if limit:
            n = min(n, limit)
        return cls("mean", n, n, source)


def st_max_length(directory) -> int:
    """The input limit of a model folder in format ``mean``: a ``mean`` student's recorded ``doc_max_length``
    (a student saved from all-MiniLM-L6-v2 keeps its 256 though it has no ``sentence_bert_config.json``), else
    ``max_seq_length`` of its ``sentence_bert_config.json``, else 512."""
    rec = Path(directory) / STUDENT_CONFIG if directory is not None else None
    if rec is not None and rec.is_file():
        try:
            r = json.loads(rec.read_text(encoding="utf-8"))
            if FORMAT_ALIASES.get(r.get("format"), r.get("format")) == "mean":
                return int(r["doc_max_length"])
        except (ValueError, TypeError, KeyError, AttributeError):
            pass  # student_format() says what is wrong with it
    cfg = Path(directory) / "sentence_bert_config.json" if directory is not None else None
    if cfg is not None and cfg.is_file():
        try:
            return int(json.loads(cfg.read_text()).get("max_seq_length") or 512)
        except (ValueError, TypeError, AttributeError, json.JSONDecodeError):
            pass
    return 512


def _max_positions(directory) -> int | None:
    cfg = Path(directory) / "config.json" if directory is not None else None
    try:
        n = json.loads(cfg.read_text()).get("max_position_embeddings") if cfg is not None and cfg.is_file() else None
    except (ValueError, AttributeError, OSError):
        return None
    return int(n) if isinstance(n, int) and n > 0 else None


def _st_modules_problem(directory: Path) -> str | None:
    """Why a sentence-transformers folder does not compute ``mean`` (normalised mean pooling), or None."""
    try:
        modules = json.loads((directory / "modules.json").read_text())
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        pool_dir = next((m.get("path", "") for m in modules if str(m.get("type", "")).endswith(".Pooling")), None)
        pool = json.loads((directory / pool_dir / "config.json").read_text()) if pool_dir else {}
    except (OSError, ValueError, AttributeError, TypeError):
        return "its modules.json or pooling config cannot be read"
    if pool_dir is None or not pool.get("pooling_mode_mean_tokens") or any(
            pool.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")):
        return "its sentence-transformers modules do not pool by the mean of the tokens"
    if "Normalize" not in kinds:
        return "its sentence-transformers modules do not L2-normalise"
    return None


def student_format(directory: str | Path | None, default: str | None = None) -> StudentFormat:
    """The format of the student in ``directory``: its ``tctcb_student.json``; else ``default`` if given (the
    trainer's ``--student-format`` for a backbone); else ``mean`` when the folder has ``modules.json``, else
    ``tct``.  A record that contradicts the folder raises :class:`StudentFormatError` (one line naming the file)."""
    d = Path(directory) if directory is not None else None
    path = d / STUDENT_CONFIG if d is not None else None
    if path is None or not path.is_file():
        if default is not None:
            return StudentFormat.for_folder(default, d, f"{d} records no format; loaded as {default}")
        if d is not None and (d / "modules.json").is_file():
            return StudentFormat.for_folder("mean", d, f"no {STUDENT_CONFIG}; {d} has modules.json")
        return StudentFormat.for_folder("tct", d, f"no {STUDENT_CONFIG} or modules.json in {d}")
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        fmt = canonical_format(rec["format"])
        q, p = int(rec["query_max_length"]), int(rec["doc_max_length"])
    except (ValueError, KeyError, TypeError) as e:
        raise StudentFormatError(f"{path}: not a student format record ({type(e).__name__}: {e}); expected "
                                 '{"format": "tct" or "mean", "query_max_length": N, "doc_max_length": N}') from None
    limit = _max_positions(d)
    if q < 1 or p < 1 or (limit and max(q, p) > limit):
        raise StudentFormatError(f"{path}: query_max_length {q} / doc_max_length {p} must be within 1..{limit or 'the model limit'} "
                                 "(config.json max_position_embeddings)")
    if fmt == "tct":
        if q != QUERY_LENGTH:
            raise StudentFormatError(f"{path}: format 'tct' queries are exactly {QUERY_LENGTH} tokens (Pyserini's "
                                     f"TctColBertQueryEncoder), but the record says query_max_length {q}")
        if (d / "modules.json").is_file():
            raise StudentFormatError(f"{path} records format 'tct' but {d} is a sentence-transformers folder "
                                     "(modules.json: mean pooling); remove one of the two")
    elif (d / "modules.json").is_file():
        problem = _st_modules_problem(d)
        if problem:
            raise StudentFormatError(f"{path} records format 'mean' but {d}: {problem}; remove one of the two")
    return StudentFormat(fmt, q, p, f"recorded in {path}")
