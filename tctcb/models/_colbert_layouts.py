"""The ColBERT checkpoint layouts :meth:`ColBERT.from_pretrained <tctcb.models.ColBERT.from_pretrained>` reads,
and PyLate's, which :meth:`ColBERT.save_pretrained(dir, layout="pylate") <tctcb.models.ColBERT.save_pretrained>`
writes.  Each reader returns ``(ColBERTConfig, backbone folder, projection weight [dim, hidden])``: the
settings make the one encoder of ``_colbert`` write its input and match its tokens as that layout's own
library does.

- ``tctcb``: ``tctcb_colbert.json`` + ``colbert_linear.safetensors`` beside a Hugging Face backbone.
- ``colbert-ai`` (the ColBERT repo, Khattab & Zaharia; ``colbert-ai`` on PyPI): a Hugging Face folder whose
  weights hold the encoder under its base prefix (``bert.``) and the projection as ``linear.weight``
  (``config.json`` architectures ``HF_ColBERT``), the settings in ``artifact.metadata`` (its
  ``ColBERTConfig`` as JSON, possibly under ``"config"``; missing keys take colbert-ai's defaults).  Its
  tokenizers write ``[CLS] marker text [SEP]`` with the marker (``query_token_id`` / ``doc_token_id``,
  ``[unused0]`` / ``[unused1]``) one token inserted after ``[CLS]``; queries are padded with ``[MASK]`` to
  ``query_maxlen`` and attend to them only with ``attend_to_mask_tokens``; every query token counts;
  passage punctuation (the first token of each character's encoding) and padding are left out of MaxSim.
- ``pylate``: a sentence-transformers folder (``modules.json``: a Transformer, then a PyLate ``Dense``
  projection) whose ``config_sentence_transformers.json`` holds ``query_prefix`` / ``document_prefix`` (one
  vocabulary token each, inserted after ``[CLS]``), ``query_length`` / ``document_length``,
  ``attend_to_expansion_tokens``, ``do_query_expansion`` and ``skiplist_words`` (mapped to ids through the
  vocabulary), missing keys taking PyLate's defaults (``pylate/models/colbert.py``).
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import torch

from ._colbert import CONFIG_NAME, LINEAR_NAME, ColBERTConfig, ColBERTError

__all__ = ["READERS", "find_layout", "detect_layout", "read_tctcb", "read_colbert_ai", "read_pylate", "check_pylate_exportable",
           "write_pylate"]

METADATA_NAME = "artifact.metadata"
# colbert-ai 0.2.22's defaults (colbert/infra/config/settings.py) for keys an artifact.metadata lacks
COLBERT_AI_DEFAULTS = {"dim": 128, "query_maxlen": 32, "doc_maxlen": 220, "mask_punctuation": True,
                       "attend_to_mask_tokens": False, "query_token_id": "[unused0]", "doc_token_id": "[unused1]",
                       "similarity": "cosine", "interaction": "colbert"}
# PyLate's defaults (pylate/models/colbert.py) for keys config_sentence_transformers.json lacks or holds as null
PYLATE_DEFAULTS = {"query_prefix": "[Q] ", "document_prefix": "[D] ", "query_length": 32, "document_length": 180,
                   "attend_to_expansion_tokens": False, "do_query_expansion": True,
                   "skiplist_words": list(string.punctuation)}
PYLATE_CONFIG = "config_sentence_transformers.json"
_IDENTITY = ("torch.nn.modules.linear.Identity", "torch.nn.Identity")
_LOOKED_FOR = (f"tctcb's ({CONFIG_NAME} + {LINEAR_NAME}), the ColBERT repo's ({METADATA_NAME}, or config.json with "
               f"architectures HF_ColBERT, and linear.weight in the weights) and PyLate's (modules.json with a Dense "
               f"module, {PYLATE_CONFIG})")


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ColBERTError(f"{path} is not valid JSON: {e}") from e


def _hf_colbert(p: Path) -> bool:
    cfg = p / "config.json"
    if not cfg.is_file():
        return False
    raw = _json(cfg)
    return isinstance(raw, dict) and "HF_ColBERT" in (raw.get("architectures") or [])


def _pylate_modules(p: Path) -> list[dict] | None:
    """modules.json's entries when the folder is PyLate's ColBERT (a Dense module and PyLate's settings or
    module types), else None."""
    mods = _json(p / "modules.json")
    if not isinstance(mods, list) or not all(isinstance(m, dict) for m in mods):
        raise ColBERTError(f"{p / 'modules.json'} should be a list of modules, found {type(mods).__name__}")
    types = [str(m.get("type", "")) for m in mods]
    st = _json(p / PYLATE_CONFIG) if (p / PYLATE_CONFIG).is_file() else {}
    pylate = any(t.startswith("pylate.") for t in types) or (isinstance(st, dict) and bool(set(st) & set(PYLATE_DEFAULTS)))
    return mods if pylate and any(t.endswith("Dense") for t in types) else None


def find_layout(p: Path) -> str | None:
    """``tctcb``, ``colbert-ai`` or ``pylate`` by the files the folder holds; None when it is none of them."""
    if (p / CONFIG_NAME).is_file() or (p / LINEAR_NAME).is_file():
        return "tctcb"
    if (p / METADATA_NAME).is_file() or _hf_colbert(p):
        return "colbert-ai"
    if (p / "modules.json").is_file() and _pylate_modules(p) is not None:
        return "pylate"
    return None


def detect_layout(p: Path) -> str:
    """:func:`find_layout`; a folder of no known layout raises :class:`ColBERTError` listing what was looked
    for and what is there."""
    layout = find_layout(p)
    if layout is not None:
        return layout
    found = sorted(x.name for x in p.iterdir())[:12]
    hint = ("; modules.json without a PyLate Dense module is a sentence-transformers model: a backbone, not a teacher"
            if (p / "modules.json").is_file() else "")
    raise ColBERTError(f"{p} is not a ColBERT checkpoint: looked for {_LOOKED_FOR}; found: {found or 'nothing'}{hint} "
                       f"(a plain backbone starts a new teacher: python -m tctcb.train teacher --backbone DIR)")


def read_tctcb(p: Path) -> tuple[ColBERTConfig, Path, torch.Tensor]:
    from dataclasses import fields

    from safetensors.torch import load_file

    cfg_file, lin_file = p / CONFIG_NAME, p / LINEAR_NAME
    missing = [f.name for f in (cfg_file, lin_file) if not f.is_file()]
    if missing:
        raise ColBERTError(f"{p} is not a ColBERT checkpoint: missing {missing} of tctcb's layout")
    raw = _json(cfg_file)
    known = {f.name for f in fields(ColBERTConfig)}
    unknown = sorted(set(raw) - known) if isinstance(raw, dict) else []
    if not isinstance(raw, dict) or unknown or raw.get("format") != ColBERTConfig.format:
        got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise ColBERTError(f"{cfg_file}: format {got!r}, unknown keys {unknown}; "
                           f"expected format {ColBERTConfig.format!r} with keys {sorted(known)}")
    state = load_file(str(lin_file))
    if set(state) != {"weight"}:
        raise ColBERTError(f"{lin_file} should hold one tensor 'weight', found {sorted(state)}")
    return ColBERTConfig(**raw), p, state["weight"]


def _tensor(folder: Path, key: str) -> tuple[torch.Tensor, str] | None:
    """``key`` from the folder's weights (``model.safetensors``, sharded safetensors, ``pytorch_model.bin``, in
    the order transformers prefers them) and the file it came from; None when no weights file holds it."""
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    files = [folder / "model.safetensors"]
    if index.is_file():
        shard = (_json(index).get("weight_map") or {}).get(key)
        files += [folder / shard] if shard else []
    for f in files:
        if f.is_file():
            with safe_open(str(f), framework="pt", device="cpu") as h:
                if key in h.keys():
                    return h.get_tensor(key), f.name
    f = folder / "pytorch_model.bin"
    if f.is_file():
        state = torch.load(str(f), map_location="cpu", weights_only=True)
        if key in state:
            return state[key], f.name
    return None


def read_colbert_ai(p: Path) -> tuple[ColBERTConfig, Path, torch.Tensor]:
    meta_file = p / METADATA_NAME
    meta = _json(meta_file) if meta_file.is_file() else {}
    if isinstance(meta, dict) and isinstance(meta.get("config"), dict):
        meta = meta["config"]
    if not isinstance(meta, dict):
        raise ColBERTError(f"{meta_file} should hold a JSON object (colbert-ai's ColBERTConfig), found {type(meta).__name__}")
    m = {k: meta[k] if meta.get(k) is not None else v for k, v in COLBERT_AI_DEFAULTS.items()}
    if (m["similarity"], m["interaction"]) != ("cosine", "colbert"):
        raise ColBERTError(f"{meta_file}: similarity {m['similarity']!r}, interaction {m['interaction']!r}; tctcb scores "
                           f"the ColBERT repo's default (similarity 'cosine', interaction 'colbert') only")
    got = _tensor(p, "linear.weight")
    if got is None:
        raise ColBERTError(f"{p}: no 'linear.weight' (the ColBERT projection) in model.safetensors or pytorch_model.bin")
    w, wfile = got
    if w.ndim != 2 or w.shape[0] != m["dim"]:
        raise ColBERTError(f"{meta_file} says dim {m['dim']} but linear.weight in {wfile} has shape {list(w.shape)}: "
                           f"the metadata does not belong to these weights")
    try:
        config = ColBERTConfig.colbert_repo(dim=int(m["dim"]), query_maxlen=int(m["query_maxlen"]),
                                            doc_maxlen=int(m["doc_maxlen"]), query_marker=str(m["query_token_id"]),
                                            doc_marker=str(m["doc_token_id"]), mask_punctuation=bool(m["mask_punctuation"]),
                                            attend_to_mask_tokens=bool(m["attend_to_mask_tokens"]))
    except (TypeError, ValueError) as e:
        raise ColBERTError(f"{meta_file}: {e}") from e
    return config, p, w


def read_pylate(p: Path) -> tuple[ColBERTConfig, Path, torch.Tensor]:
    mods = _pylate_modules(p)
    trans = [m for m in mods if str(m.get("type", "")).endswith("Transformer")]
    dense = [m for m in mods if str(m.get("type", "")).endswith("Dense")]
    if len(trans) != 1 or len(dense) != 1:
        raise ColBERTError(f"{p / 'modules.json'}: {len(trans)} Transformer and {len(dense)} Dense modules; tctcb reads "
                           f"PyLate models with one of each (one projection)")
    tdir, ddir = p / str(trans[0].get("path", "")), p / str(dense[0].get("path", ""))
    dcfg = _json(ddir / "config.json") if (ddir / "config.json").is_file() else {}
    if not isinstance(dcfg, dict):
        raise ColBERTError(f"{ddir / 'config.json'} should hold a JSON object, found {type(dcfg).__name__}")
    act = dcfg.get("activation_function", _IDENTITY[0])
    if act not in _IDENTITY or dcfg.get("use_residual"):
        raise ColBERTError(f"{ddir / 'config.json'}: activation {act!r}, use_residual {dcfg.get('use_residual')!r}; "
                           f"tctcb reads a plain linear projection (Identity, no residual)")
    got = _tensor(ddir, "linear.weight")
    if got is None:
        raise ColBERTError(f"{ddir}: no 'linear.weight' (the PyLate Dense projection) in model.safetensors or pytorch_model.bin")
    w, wfile = got
    if _tensor(ddir, "linear.bias") is not None:
        raise ColBERTError(f"{ddir / wfile}: the projection has a bias; tctcb reads a bias-free projection")
    if dcfg.get("out_features", w.shape[0]) != w.shape[0] or dcfg.get("in_features", w.shape[1]) != w.shape[1]:
        raise ColBERTError(f"{ddir / 'config.json'} says {dcfg.get('in_features')}->{dcfg.get('out_features')} but "
                           f"linear.weight in {wfile} is {w.shape[1]}->{w.shape[0]}")
    sb = tdir / "sentence_bert_config.json"
    if sb.is_file() and isinstance(_json(sb), dict) and _json(sb).get("do_lower_case"):
        raise ColBERTError(f"{sb}: do_lower_case is true (sentence-transformers lowercases the text itself); "
                           f"tctcb reads models whose tokenizer does the lowercasing")
    st = _json(p / PYLATE_CONFIG) if (p / PYLATE_CONFIG).is_file() else {}
    if not isinstance(st, dict):
        raise ColBERTError(f"{p / PYLATE_CONFIG} should hold a JSON object, found {type(st).__name__}")
    s = {k: st[k] if st.get(k) is not None else v for k, v in PYLATE_DEFAULTS.items()}
    try:
        config = ColBERTConfig(dim=int(w.shape[0]), query_maxlen=int(s["query_length"]),
                               doc_maxlen=int(s["document_length"]), query_marker=str(s["query_prefix"]),
                               doc_marker=str(s["document_prefix"]), marker_token=True,
                               attend_to_mask_tokens=bool(s["attend_to_expansion_tokens"]),
                               query_expansion=bool(s["do_query_expansion"]),
                               skiplist=[str(x) for x in s["skiplist_words"]], skiplist_rule="vocab")
    except (TypeError, ValueError) as e:
        raise ColBERTError(f"{p / PYLATE_CONFIG}: {e}") from e
    return config, tdir, w


READERS = {"tctcb": read_tctcb, "colbert-ai": read_colbert_ai, "pylate": read_pylate}


def _pylate_skiplist_words(model) -> list[str]:
    """The model's passage skiplist as the vocabulary tokens PyLate maps back to the same ids."""
    ids = model._skiplist.tolist()
    return model.tokenizer.convert_ids_to_tokens(ids)


def check_pylate_exportable(model) -> None:
    """Raise :class:`ColBERTError` saying why when PyLate would write this teacher's input differently."""
    c = model.config
    if not c.marker_token:
        raise ColBERTError(
            f"this teacher writes its markers as text ('{model.tokenizer.cls_token} {c.query_marker} ' + query: "
            f"the marker in word pieces, no [SEP]: tctcb's format); PyLate inserts one marker token after [CLS] "
            f"and ends every input with [SEP], so it would score this teacher differently. Teachers with marker "
            f"tokens (ColBERTConfig(marker_token=True), or loaded from the ColBERT repo or PyLate) can be exported")
    words = _pylate_skiplist_words(model)
    if model.tokenizer.convert_tokens_to_ids(words) != model._skiplist.tolist():
        raise ColBERTError("the teacher's passage skiplist has tokens PyLate cannot name (their vocabulary entries "
                           "map to other ids)")


def write_pylate(model, out: Path) -> None:
    """Add PyLate's files to ``out``, where the backbone and tokenizer were just saved: ``modules.json``,
    ``sentence_bert_config.json``, ``config_sentence_transformers.json`` and ``1_Dense/``."""
    from safetensors.torch import save_file

    check_pylate_exportable(model)
    c, w = model.config, model.linear.weight.detach().cpu().contiguous()
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"}]
    st = {"model_type": "ColBERT", "prompts": {}, "default_prompt_name": None, "similarity_fn_name": "MaxSim",
          "query_prefix": c.query_marker, "document_prefix": c.doc_marker, "query_length": c.query_maxlen,
          "document_length": c.doc_maxlen, "attend_to_expansion_tokens": c.attend_to_mask_tokens and c.query_expansion,
          "skiplist_words": _pylate_skiplist_words(model), "do_query_expansion": c.query_expansion}
    files = {"modules.json": modules, PYLATE_CONFIG: st,
             "sentence_bert_config.json": {"max_seq_length": c.doc_maxlen - 1, "do_lower_case": False},
             "1_Dense/config.json": {"in_features": w.shape[1], "out_features": w.shape[0], "bias": False,
                                     "activation_function": _IDENTITY[0]}}
    (out / "1_Dense").mkdir(exist_ok=True)
    for name, obj in files.items():
        (out / name).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    save_file({"linear.weight": w}, str(out / "1_Dense" / "model.safetensors"))
