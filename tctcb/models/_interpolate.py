"""Weight-space interpolation of two checkpoints of one model (WiSE-FT, Wortsman et al., CVPR 2022):
``(1 - alpha) * start + alpha * end``, tensor by tensor.

The use here: ``start`` is a model before fine-tuning on one collection (e.g. the format-adapted student,
which still ranks other collections as the backbone does) and ``end`` the same model after it; points in
between trade in-domain gains against what the start knew elsewhere.  Both must be the same architecture
in the same format (same files, tensor names, shapes, dtypes and tokenizer), as two checkpoints of one
training lineage are; anything else is refused with a line naming what differs, and nothing is written.
Works for TCT-ColBERT students, sentence-transformers-free BERT folders and ColBERT teachers alike (every
``*.safetensors`` file is interpolated, every other file copied from ``end``).
"""
from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

from tctcb._command import UserError
from tctcb._atomic import swap_dir, tmp_dir

__all__ = ["interpolate_checkpoints", "InterpolationError"]

# config.json keys that record where or with what a checkpoint was written, not what it is
_BOOKKEEPING = {"_name_or_path", "transformers_version"}
# tokenizer files that must be identical in both checkpoints (the rest is copied from ``end``)
_VOCAB_FILES = ("vocab.txt", "tokenizer.json", "sentencepiece.bpe.model", "spiece.model")
# tokenizer.json entries that record the last call's settings, not the tokenizer
_CALL_STATE = {"truncation", "padding"}


class InterpolationError(UserError, ValueError):
    """Two checkpoints that cannot be interpolated, or a bad alpha / output; the message names the cause."""


def _config(path: Path) -> dict:
    f = path / "config.json"
    if not f.is_file():
        raise InterpolationError(f"{path}: not a model checkpoint folder (no config.json there)")
    try:
        raw = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise InterpolationError(f"{f} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise InterpolationError(f"{f}: expected a JSON object, found {type(raw).__name__}")
    return {k: v for k, v in raw.items() if k not in _BOOKKEEPING}


def _check_pair(start: Path, end: Path) -> list[str]:
    """The safetensors file names both checkpoints share, after checking everything that must agree."""
    for p in (start, end):
        if not p.is_dir():
            raise InterpolationError(f"checkpoint folder {p} does not exist")
    a, b = _config(start), _config(end)
    if a != b:
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        raise InterpolationError(f"{start} and {end} are different architectures: config.json differs in {diff}")
    wa, wb = sorted(f.name for f in start.glob("*.safetensors")), sorted(f.name for f in end.glob("*.safetensors"))
    if not wa:
        raise InterpolationError(f"{start}: no *.safetensors weights (only safetensors checkpoints are interpolated)")
    if wa != wb:
        raise InterpolationError(f"{start} has weight files {wa}, {end} has {wb}")
    for name in _VOCAB_FILES:
        fa, fb = start / name, end / name
        if fa.is_file() != fb.is_file() or (fa.is_file() and not _same_vocab_file(fa, fb)):
            raise InterpolationError(f"{start} and {end} have different tokenizers ({name} differs)")
    from ._format import STUDENT_CONFIG, student_format

    if (start / STUDENT_CONFIG).is_file() or (end / STUDENT_CONFIG).is_file():
        fa, fb = student_format(start), student_format(end)
        if fa.record() != fb.record():
            raise InterpolationError(f"{start} and {end} are students in different formats: {fa.record()} "
                                     f"({fa.source}) vs {fb.record()} ({fb.source})")
    return wa


def _same_vocab_file(fa: Path, fb: Path) -> bool:
    """Byte-identical, or for ``tokenizer.json`` equal but for its ``truncation`` / ``padding`` entries: the
    tokenizers library saves the settings of the last call there (a checkpoint written after encoding 36-token
    queries says 36, one written after 128-token passages 128), and transformers sets them anew on every call,
    so they are not part of what the tokenizer is."""
    if filecmp.cmp(fa, fb, shallow=False):
        return True
    if fa.name != "tokenizer.json":
        return False
    try:
        ta, tb = json.loads(fa.read_text(encoding="utf-8")), json.loads(fb.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    if not (isinstance(ta, dict) and isinstance(tb, dict)):
        return False
    return {k: v for k, v in ta.items() if k not in _CALL_STATE} == {k: v for k, v in tb.items() if k not in _CALL_STATE}


def _mix(a: dict, b: dict, alpha: float, where: str) -> dict:
    import torch

    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))[:5]
        raise InterpolationError(f"{where}: the two checkpoints hold different tensors (e.g. {only})")
    out = {}
    for k in sorted(a):
        x, y = a[k], b[k]
        if x.shape != y.shape or x.dtype != y.dtype:
            raise InterpolationError(f"{where}: tensor {k} is {tuple(x.shape)} {x.dtype} in one checkpoint and "
                                     f"{tuple(y.shape)} {y.dtype} in the other")
        if x.is_floating_point():
            out[k] = ((1.0 - alpha) * x.float() + alpha * y.float()).to(x.dtype).contiguous()
        elif torch.equal(x, y):
            out[k] = x.contiguous()
        else:
            raise InterpolationError(f"{where}: integer tensor {k} differs between the checkpoints")
    return out


def _load(path: Path, load_file) -> dict:
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for a truncated or foreign file
        raise InterpolationError(f"{path}: not a readable safetensors file ({e})") from None


def interpolate_checkpoints(start: str | Path, end: str | Path, alpha: float, output: str | Path) -> Path:
    """Write ``(1 - alpha) * start + alpha * end`` to ``output`` (atomically; an existing folder is replaced
    only once the new one is complete).  ``alpha`` in [0, 1]: 0 gives ``start``'s weights, 1 ``end``'s."""
    from safetensors.torch import load_file, save_file

    start, end, output = Path(start), Path(end), Path(output)
    if not 0.0 <= alpha <= 1.0:
        raise InterpolationError(f"alpha must be in [0, 1], got {alpha}")
    for p in (start, end):
        if p.exists() and output.resolve() == p.resolve():
            raise InterpolationError(f"output {output} is one of the inputs; write the interpolation elsewhere")
    weight_files = _check_pair(start, end)
    tmp = tmp_dir(output)
    try:
        for f in end.iterdir():
            if f.is_file() and f.suffix != ".safetensors":
                shutil.copy2(f, tmp / f.name)
        for name in weight_files:
            mixed = _mix(_load(start / name, load_file), _load(end / name, load_file), alpha, name)
            save_file(mixed, str(tmp / name), metadata={"format": "pt"})
        (tmp / "tctcb_interpolation.json").write_text(json.dumps(
            {"start": str(start.resolve()), "end": str(end.resolve()), "alpha": alpha,
             "rule": "(1 - alpha) * start + alpha * end"}, indent=2) + "\n")
        swap_dir(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output
