"""A small reference for PyLate's ColBERT folders, written from PyLate's source (lightonai/pylate:
``pylate/models/colbert.py`` -- ``ColBERT.__init__``, ``preprocess``, ``encode``, ``save``;
``pylate/models/Dense.py``; ``pylate/scores/colbert.py``) and sentence-transformers' ``Transformer.tokenize``,
and sharing no code with tctcb's encoder.  PyLate cannot be installed beside tctcb's pins (pylate 1.6.0 needs
sentence-transformers 5.3, transformers 5.3 and torch 2.11; with sentence-transformers 6.3 it fails on load),
so tctcb's reading and writing of PyLate's layout are checked against this; loading in PyLate itself is not
tested here.

What PyLate does with a saved folder, as this module does it:

- ``modules.json``: the Transformer module's folder and the Dense modules after it (a Pooling is dropped).
- ``config_sentence_transformers.json``: ``query_prefix`` / ``document_prefix`` (default ``"[Q] "`` /
  ``"[D] "``), ``query_length`` / ``document_length`` (32 / 180), ``attend_to_expansion_tokens`` (False),
  ``skiplist_words`` (``string.punctuation``), ``do_query_expansion`` (True); a null is the default.
- The tokenizer gets the prefixes as added tokens (a saved folder has them already) and ``[MASK]`` as its
  padding token.
- ``preprocess``: texts stripped, tokenized with the tokenizer's special tokens, ``truncation="longest_first"``,
  ``max_length`` = the length minus one when there is a prefix; queries padded to that length when expanding,
  documents to the longest; then the prefix id is inserted after the first token (1 in the attention mask, 0 in
  the token types) and, for queries with ``attend_to_expansion_tokens``, the attention mask filled with ones.
- ``forward``: the transformer's token embeddings through each Dense (linear, then its activation).
- ``encode``: queries keep every token when expanding (else the attended ones); documents keep attended tokens
  whose id is not a skiplist word's (``convert_tokens_to_ids``); the kept vectors are L2-normalised.
- MaxSim: for each query token the largest dot product with a kept document token, summed
  (``colbert_scores_pairwise``; ``colbert_scores`` on one unpadded document).  PyLate's ``rank.rerank`` pads a
  query's candidates with zero vectors and masks nothing, so there a query token whose best similarity is
  negative scores 0 for a document shorter than the longest candidate; that is not reproduced here.
"""
from __future__ import annotations

import json
import string
from pathlib import Path

import torch

__all__ = ["pylate_scores", "make_pylate_folder"]

_DEFAULTS = {"query_prefix": "[Q] ", "document_prefix": "[D] ", "query_length": 32, "document_length": 180,
             "attend_to_expansion_tokens": False, "skiplist_words": list(string.punctuation),
             "do_query_expansion": True}


def _settings(folder: Path) -> dict:
    f = folder / "config_sentence_transformers.json"
    raw = json.loads(f.read_text()) if f.is_file() else {}
    return {k: raw[k] if raw.get(k) is not None else v for k, v in _DEFAULTS.items()}


def _projections(folder: Path, modules: list[dict]) -> list:
    from safetensors.torch import load_file

    out = []
    for m in modules:
        if not m["type"].endswith("Dense"):
            continue
        d = folder / m["path"]
        cfg = json.loads((d / "config.json").read_text())
        assert cfg.get("activation_function", "torch.nn.modules.linear.Identity").endswith("Identity"), cfg
        state = load_file(str(d / "model.safetensors"))
        out.append((state["linear.weight"], state.get("linear.bias")))
    return out


@torch.no_grad()
def pylate_scores(folder, query: str, passages: list[str]) -> torch.Tensor:
    """PyLate's MaxSim scores of ``query`` against each passage: a float tensor [len(passages)]."""
    from transformers import AutoModel, AutoTokenizer

    folder = Path(folder)
    modules = json.loads((folder / "modules.json").read_text())
    tdir = folder / next(m["path"] for m in modules if m["type"].endswith("Transformer"))
    s = _settings(folder)
    tok = AutoTokenizer.from_pretrained(str(tdir))
    model = AutoModel.from_pretrained(str(tdir)).eval()
    prefixes = [p for p in (s["query_prefix"], s["document_prefix"]) if p]
    # PyLate adds the prefixes as tokens and resizes the embeddings to the tokenizer; in a saved folder they are
    # there already (else the new rows would be random, which no reference can reproduce)
    tok.add_tokens(prefixes)
    assert len(tok) <= model.get_input_embeddings().num_embeddings, f"prefixes {prefixes} missing from the model"
    tok.pad_token = tok.mask_token
    projections = _projections(folder, modules)
    skip = torch.tensor([tok.convert_tokens_to_ids(w) for w in s["skiplist_words"]], dtype=torch.long)
    expansion = bool(s["do_query_expansion"])

    def encode(texts: list[str], is_query: bool) -> list[torch.Tensor]:
        prefix = s["query_prefix"] if is_query else s["document_prefix"]
        length = s["query_length"] if is_query else s["document_length"]
        enc = tok([t.strip() for t in texts], padding="max_length" if is_query and expansion else True,
                  truncation="longest_first", max_length=length - 1 if prefix else length, return_tensors="pt")
        enc = dict(enc)
        if prefix:
            pid = tok.convert_tokens_to_ids(prefix)
            for k, v in (("input_ids", pid), ("attention_mask", 1), ("token_type_ids", 0)):
                if k in enc:
                    x = enc[k]
                    enc[k] = torch.cat([x[:, :1], torch.full((x.shape[0], 1), v, dtype=x.dtype), x[:, 1:]], dim=1)
        attention = enc["attention_mask"].clone()
        if is_query and expansion and s["attend_to_expansion_tokens"]:
            enc["attention_mask"].fill_(1)
        h = model(**enc).last_hidden_state
        for w, b in projections:
            h = torch.nn.functional.linear(h, w, b)
        if is_query:
            keep = torch.ones_like(attention, dtype=torch.bool) if expansion else attention.bool()
        else:
            keep = attention.bool() & ~torch.isin(enc["input_ids"], skip)
        return [torch.nn.functional.normalize(h[i][keep[i]], p=2, dim=1) for i in range(len(texts))]

    q = encode([query], True)[0]
    return torch.stack([(q @ d.T).max(dim=1).values.sum() for d in encode(list(passages), False)]).float()


def make_pylate_folder(out, backbone, dim: int = 16, seed: int = 0, **settings) -> Path:
    """A PyLate ColBERT folder as PyLate saves one: the backbone (from ``backbone``) with the prefixes added to
    its tokenizer and embeddings, a bias-free ``1_Dense`` projection to ``dim`` (both initialised from
    ``seed``), ``modules.json``, ``sentence_bert_config.json`` and ``config_sentence_transformers.json`` holding
    ``settings`` (PyLate's keys: query_prefix, query_length, attend_to_expansion_tokens, ...)."""
    from safetensors.torch import save_file
    from transformers import AutoModel, AutoTokenizer

    out = Path(out)
    s = {**_DEFAULTS, **settings}
    tok = AutoTokenizer.from_pretrained(str(backbone))
    model = AutoModel.from_pretrained(str(backbone))
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        tok.add_tokens([p for p in (s["query_prefix"], s["document_prefix"]) if p])
        model.resize_token_embeddings(len(tok))
        weight = torch.randn(dim, model.config.hidden_size) / model.config.hidden_size ** 0.5
    finally:
        torch.random.set_rng_state(state)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    (out / "1_Dense").mkdir(exist_ok=True)
    save_file({"linear.weight": weight.contiguous()}, str(out / "1_Dense" / "model.safetensors"))
    files = {
        "modules.json": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                         {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"}],
        "1_Dense/config.json": {"in_features": model.config.hidden_size, "out_features": dim, "bias": False,
                                "activation_function": "torch.nn.modules.linear.Identity"},
        "sentence_bert_config.json": {"max_seq_length": s["document_length"] - 1, "do_lower_case": False},
        "config_sentence_transformers.json": {"model_type": "ColBERT", "similarity_fn_name": "MaxSim", **settings},
    }
    for name, obj in files.items():
        (out / name).write_text(json.dumps(obj, indent=2) + "\n")
    return out
