"""What the exporters share: the error class, the source model's checks, and the output folder's handling."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from tctcb._atomic import swap_dir, tmp_dir
from tctcb._command import UserError

__all__ = ["ExportError", "source_model", "encoder_source", "model_pooling", "writing"]


class ExportError(UserError, ValueError):
    """A model that cannot be exported as asked, or an output folder that cannot be written."""


def source_model(model) -> Path:
    """The model folder to export (a path, or a name such as all-mpnet-base-v2); an export is not a source."""
    from tctcb.encode import ONNX_CONFIG, is_onnx_export
    from tctcb.models import resolve_backbone

    path = resolve_backbone(model)
    if is_onnx_export(path):
        raise ExportError(f"--model {model}: this is already an ONNX export ({ONNX_CONFIG}); export its source model")
    return path.resolve() if path.exists() else path


def encoder_source(model) -> Path:
    """:func:`source_model`, for the bi-encoder exports (ONNX, sentence-transformers): a ColBERT teacher, or a
    sentence-transformers folder tctcb's encoder would not compute exactly, is refused."""
    path = source_model(model)
    teacher = [f for f in _TEACHER_FILES if (path / f).exists()]
    if teacher:
        raise ExportError(f"--model {model} is a ColBERT teacher ({teacher[0]}): --format onnx and "
                          "sentence-transformers are for bi-encoders (TCT-ColBERT students, sentence-transformers "
                          "models); a teacher exports with --format pylate")
    _check_st_modules(path, model)
    return path


# files that mark a ColBERT teacher folder (tctcb's own, the ColBERT repo's)
_TEACHER_FILES = ("tctcb_colbert.json", "colbert_linear.safetensors", "artifact.metadata")
_ST_MODULES = {"Transformer", "Pooling", "Normalize"}


def _check_st_modules(path: Path, model) -> None:
    """A sentence-transformers folder is exported as tctcb's ``st`` encoder computes it (Transformer, mean
    Pooling, Normalize): one with other modules (a Dense layer, a PyLate ColBERT) or another pooling is refused."""
    import json

    f = path / "modules.json"
    if not f.is_file():
        return
    try:
        mods = json.loads(f.read_text(encoding="utf-8"))
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in mods]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ExportError(f"{f}: not a sentence-transformers modules.json") from None
    extra = [k for k in kinds if k not in _ST_MODULES]
    if extra:
        raise ExportError(f"--model {model}: {f} has modules {extra} besides Transformer, Pooling and Normalize, "
                          "which tctcb's sentence-transformers encoder does not compute (a PyLate ColBERT teacher: "
                          "--format pylate)")
    for m in mods:
        cfg = path / str(m.get("path", "")) / "config.json"
        if str(m["type"]).endswith("Pooling") and cfg.is_file():
            modes = {k for k, v in json.loads(cfg.read_text(encoding="utf-8")).items()
                     if k.startswith("pooling_mode_") and v is True}
            if modes != {"pooling_mode_mean_tokens"}:
                raise ExportError(f"--model {model}: {cfg} pools by {sorted(modes)}; tctcb's sentence-transformers "
                                  "encoder computes mean pooling only")


def model_pooling(src: Path, requested: str | None) -> str:
    """``tct`` or ``st`` (sentence-transformers pooling; the student format ``mean`` is the same): as requested,
    else as ``tctcb.encode`` decides for the folder."""
    from tctcb.encode import query_encoder_pooling

    pooling = query_encoder_pooling(src, None, requested)
    return "st" if pooling in ("st", "mean") else pooling


@contextmanager
def writing(output, overwrite: bool):
    """A temporary folder beside ``output`` that becomes ``output`` when the block ends without an error (an
    existing non-empty ``output`` only with ``overwrite``); removed otherwise."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ExportError(f"--output {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"--output {out}: exists and is not empty (use --overwrite to replace it)")
    tmp = tmp_dir(out)  # (removes what killed runs left)
    try:
        yield tmp
        swap_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
