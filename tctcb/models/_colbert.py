"""ColBERT (Khattab & Zaharia, SIGIR 2020), the teacher of TCT-ColBERT (Lin, Yang & Lin 2020, arXiv 2010.11386).

A BERT-family (or MPNet: ``_backbone.ENCODER_FAMILY``) backbone, a linear projection of every output
token to ``dim`` (128) dimensions and L2 normalisation (with MPNet, ``[CLS]`` / ``[MASK]`` below are its
``<s>`` / ``<mask>``).  Queries are written ``'[CLS] [Q] ' + query`` and padded with ``[MASK]`` to exactly
``query_maxlen`` (32) tokens (*query augmentation*: every position, the masks included, is attended to
and takes part in the match); passages are written ``'[CLS] [D] ' + text`` and truncated to
``doc_maxlen`` (180) tokens, with punctuation tokens left out of the match.  The markers are the same
literal strings the TCT-ColBERT student uses (the tokenizer splits ``[Q]`` into ``[``, ``q``, ``]``),
so a student can start from the teacher's backbone (``--init teacher``).

Score = MaxSim: for every query token, the largest dot product with any (unmasked) passage token,
summed over query tokens (:func:`maxsim`, :func:`maxsim_all`).

A checkpoint directory holds the backbone in Hugging Face format (``config.json``, weights,
tokenizer), the projection in ``colbert_linear.safetensors`` and the settings in ``tctcb_colbert.json``.

The same encoder, set differently (:class:`ColBERTConfig`), reads the two published layouts too
(:mod:`._colbert_layouts`): the ColBERT repo's (``colbert-ai``: ``[CLS] [unused0] query [SEP]``, the
marker one token inserted after ``[CLS]``, ``[MASK]`` padding not attended to by default) and PyLate's
(the same input with its own prefix tokens), each scored as its library scores it.
"""
from __future__ import annotations

import json
import shutil
import string
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from tctcb._atomic import swap_dir, tmp_dir
from tctcb._command import UserError

__all__ = ["ColBERT", "ColBERTConfig", "ColBERTError", "maxsim", "maxsim_all", "pad_token_vectors", "CONFIG_NAME",
           "LINEAR_NAME"]

CONFIG_NAME = "tctcb_colbert.json"
LINEAR_NAME = "colbert_linear.safetensors"
_NEG = -1e4  # stands in for -inf on masked passage tokens (finite, so 0 * _NEG stays 0 and bf16 is safe)


class ColBERTError(UserError, ValueError):
    """A directory is not a ColBERT checkpoint, or the inputs don't fit the model."""


SKIPLIST_RULES = ("single", "first", "vocab")


@dataclass
class ColBERTConfig:
    """The teacher's settings.  The defaults are tctcb's own input format; the fields after ``format``
    express the ColBERT repo's and PyLate's (see :mod:`._colbert_layouts`).

    ``marker_token``: False writes ``'[CLS] ' + marker + ' ' + text`` as text (the marker split into
    word pieces, no ``[SEP]``: TCT-ColBERT's format); True writes the tokenizer's own
    ``[CLS] text [SEP]`` and inserts the marker, one vocabulary token, after ``[CLS]`` (an empty marker
    inserts nothing).  ``attend_to_mask_tokens``: whether the other query tokens attend to the ``[MASK]``
    padding (they always take part in the match).  ``query_expansion``: pad queries with ``[MASK]`` to
    ``query_maxlen`` (False: pad to the longest, and only real tokens take part in the match).
    ``skiplist``: the words left out of the passage match when ``mask_punctuation`` (None:
    ``string.punctuation``); ``skiplist_rule`` how a word becomes a token id: ``single`` (its encoding,
    when that is one token), ``first`` (the first token of its encoding: the ColBERT repo), ``vocab``
    (its vocabulary entry, ``[UNK]`` when it has none: PyLate).
    """
    dim: int = 128
    query_maxlen: int = 32
    doc_maxlen: int = 180
    query_marker: str = "[Q]"
    doc_marker: str = "[D]"
    mask_punctuation: bool = True
    format: str = "tctcb-colbert-v1"
    marker_token: bool = False
    attend_to_mask_tokens: bool = True
    query_expansion: bool = True
    skiplist: list[str] | None = None
    skiplist_rule: str = "single"

    @classmethod
    def colbert_repo(cls, **settings) -> "ColBERTConfig":
        """The ColBERT repo's v2 input (colbert-ai's defaults): ``[CLS] [unused0] query [SEP]`` padded with
        ``[MASK]`` (not attended to), ``[CLS] [unused1] passage [SEP]``; ``settings`` (dim, lengths) as given."""
        return cls(**{"marker_token": True, "query_marker": "[unused0]", "doc_marker": "[unused1]",
                      "attend_to_mask_tokens": False, "skiplist_rule": "first", **settings})

    def to_json(self) -> dict:
        """The settings as saved: the fields added after ``format`` only where they differ from the
        defaults, so a checkpoint in tctcb's own format is written as before."""
        out, default = asdict(self), ColBERTConfig()
        names = list(out)
        for name in names[names.index("format") + 1:]:
            if out[name] == getattr(default, name):
                del out[name]
        return out


def _after_first(x: torch.Tensor, value: int) -> torch.Tensor:
    """``x`` [n, L] with a column of ``value`` inserted after the first: [n, L + 1]."""
    return torch.cat([x[:, :1], torch.full_like(x[:, :1], value), x[:, 1:]], dim=1)


def _linear(w: torch.Tensor) -> nn.Linear:
    """A bias-free projection holding ``w`` [dim, hidden] (as float32)."""
    linear = nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        linear.weight.copy_(w)
    return linear


def maxsim(qv: torch.Tensor, qm: torch.Tensor, dv: torch.Tensor, dm: torch.Tensor) -> torch.Tensor:
    """MaxSim of aligned pairs: query ``i`` against passage ``i``.

    ``qv`` [n, Lq, d], ``qm`` [n, Lq] (1 = token counts), ``dv`` [n, Ld, d], ``dm`` [n, Ld]
    (1 = token can be matched).  Returns [n].

    >>> q = torch.tensor([[[1., 0.], [0., 1.]]]); d = torch.tensor([[[0.6, 0.8], [1., 0.], [0., 1.]]])
    >>> round(maxsim(q, torch.ones(1, 2), d, torch.tensor([[1, 1, 0]])).item(), 4)  # max(.6, 1) + max(.8, 0)
    1.8
    """
    if qv.shape[0] != dv.shape[0]:
        raise ColBERTError(f"maxsim pairs query i with passage i: got {qv.shape[0]} queries and {dv.shape[0]} passages")
    sim = torch.einsum("nid,njd->nij", qv, dv)
    sim = sim.masked_fill(~dm.bool()[:, None, :], _NEG)
    return (sim.max(dim=-1).values * qm.to(sim.dtype)).sum(-1)


def maxsim_all(qv: torch.Tensor, qm: torch.Tensor, dv: torch.Tensor, dm: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """MaxSim of every query against every passage: [nq, np].  Vectorised (einsum), in query chunks of
    ``chunk`` to bound memory (nq * np * Lq * Ld similarities per chunk).

    >>> q = torch.tensor([[[1., 0.]], [[0., 1.]]]); d = torch.tensor([[[1., 0.]], [[0.6, 0.8]]])
    >>> maxsim_all(q, torch.ones(2, 1), d, torch.ones(2, 1)).round(decimals=4).tolist()
    [[1.0, 0.6000000238418579], [0.0, 0.800000011920929]]
    """
    dmask = ~dm.bool()
    out = []
    for s in range(0, qv.shape[0], chunk):
        sim = torch.einsum("qid,pjd->qpij", qv[s:s + chunk], dv)
        sim = sim.masked_fill(dmask[None, :, None, :], _NEG)
        out.append((sim.max(dim=-1).values * qm[s:s + chunk, None, :].to(sim.dtype)).sum(-1))
    return torch.cat(out, 0) if out else qv.new_zeros(0, dv.shape[0])


def pad_token_vectors(vectors: list[torch.Tensor], device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Passages' matchable token vectors ([n_i, dim] each, :meth:`ColBERT.passage_token_vectors`) as the padded
    ``(dv [P, L, dim], dm [P, L])`` that :func:`maxsim_all` takes."""
    dv = nn.utils.rnn.pad_sequence([v.to(device) for v in vectors], batch_first=True)
    dm = nn.utils.rnn.pad_sequence([torch.ones(len(v), dtype=torch.long, device=dv.device) for v in vectors],
                                   batch_first=True)
    return dv, dm


class ColBERT(nn.Module):
    """The ColBERT teacher.  Build a fresh one with :meth:`from_backbone`, load a trained one with
    :meth:`from_pretrained`."""

    def __init__(self, bert: nn.Module, tokenizer, config: ColBERTConfig | None = None, linear: nn.Linear | None = None):
        super().__init__()
        self.config = config or ColBERTConfig()
        self.bert = bert
        self.tokenizer = tokenizer
        hidden = bert.config.hidden_size
        self.linear = linear if linear is not None else nn.Linear(hidden, self.config.dim, bias=False)
        if self.linear.in_features != hidden or self.linear.out_features != self.config.dim:
            raise ColBERTError(f"projection is {self.linear.in_features}->{self.linear.out_features}, "
                               f"model needs {hidden}->{self.config.dim}")
        mask_id = tokenizer.mask_token_id
        if mask_id is None:
            raise ColBERTError("the tokenizer has no [MASK] token, which query augmentation needs")
        self._mask_id = mask_id
        self._marker_ids = {q: self._marker_id(m) for q, m in ((True, self.config.query_marker),
                                                              (False, self.config.doc_marker))}
        self.register_buffer("_skiplist", torch.tensor(sorted(self._skip_ids()), dtype=torch.long), persistent=False)

    def _marker_id(self, marker: str) -> int | None:
        """The token id inserted after [CLS] (``marker_token``), None when nothing is inserted."""
        if not self.config.marker_token or marker == "":
            return None
        tok = self.tokenizer
        i = tok.convert_tokens_to_ids(marker)
        if i is None or (i == tok.unk_token_id and marker != tok.unk_token):
            raise ColBERTError(f"marker {marker!r} is not a token of the tokenizer's vocabulary")
        rows = self.bert.get_input_embeddings().num_embeddings
        if i >= rows:
            raise ColBERTError(f"marker {marker!r} is token {i} but the model embeds only {rows} tokens")
        return i

    def _skip_ids(self) -> set[int]:
        """Token ids left out of the passage match (``skiplist`` / ``skiplist_rule``)."""
        c, tok = self.config, self.tokenizer
        if c.skiplist_rule not in SKIPLIST_RULES:
            raise ColBERTError(f"skiplist_rule {c.skiplist_rule!r}: expected one of {list(SKIPLIST_RULES)}")
        skip = set()
        if not c.mask_punctuation:
            return skip
        for word in (c.skiplist if c.skiplist is not None else string.punctuation):
            if c.skiplist_rule == "vocab":
                i = tok.convert_tokens_to_ids(word)
                if i is not None:
                    skip.add(i)
                continue
            ids = tok.encode(word, add_special_tokens=False)
            if len(ids) == 1 or (ids and c.skiplist_rule == "first"):
                skip.add(ids[0])
        return skip

    # ---- construction / persistence -------------------------------------------------------------
    @classmethod
    def from_backbone(cls, path=None, config: ColBERTConfig | None = None, seed: int | None = 0) -> "ColBERT":
        """A new (untrained) ColBERT on a BERT-family or MPNet backbone (default: offline all-MiniLM-L6-v2);
        the projection is initialised from ``seed``."""
        from ._backbone import ENCODER_FAMILY, load_backbone

        bert, tok = load_backbone(path, families=ENCODER_FAMILY)
        if seed is not None:
            gen_state = torch.random.get_rng_state()
            torch.manual_seed(seed)
        model = cls(bert, tok, config)
        if seed is not None:
            torch.random.set_rng_state(gen_state)
        return model

    @classmethod
    def from_pretrained(cls, path, device: str | torch.device = "cpu") -> "ColBERT":
        """Load a checkpoint: tctcb's (written by :meth:`save_pretrained`), the ColBERT repo's or PyLate's
        (:func:`._colbert_layouts.detect_layout`); any other directory raises :class:`ColBERTError` saying
        what was looked for."""
        from ._backbone import ENCODER_FAMILY, load_backbone
        from ._colbert_layouts import READERS, detect_layout

        p = Path(path)
        if not p.is_dir():
            raise ColBERTError(f"ColBERT checkpoint {p} does not exist")
        config, backbone, w = READERS[detect_layout(p)](p)
        bert, tok = load_backbone(backbone, families=ENCODER_FAMILY)
        try:
            model = cls(bert, tok, config, _linear(w))
        except ColBERTError as e:  # e.g. a marker the vocabulary lacks: name the checkpoint
            raise ColBERTError(f"{p}: {e}") from None
        return model.to(device)

    @staticmethod
    def layout_of(path) -> str | None:
        """The checkpoint layout of the folder ``path`` by the files it holds -- ``"tctcb"``, ``"colbert-ai"`` (the
        ColBERT repo's) or ``"pylate"`` -- or None (not a folder, or a backbone, a student, ...)."""
        from ._colbert_layouts import find_layout

        p = Path(path)
        return find_layout(p) if p.is_dir() else None

    def save_pretrained(self, path, layout: str = "tctcb") -> Path:
        """Write the checkpoint to ``path`` (atomically): ``layout="tctcb"`` our own, ``"pylate"`` PyLate's
        sentence-transformers folder (:func:`._colbert_layouts.write_pylate`; refused, with the reason, for
        a teacher whose input PyLate cannot write the same way)."""
        from safetensors.torch import save_file

        if layout not in ("tctcb", "pylate"):
            raise ColBERTError(f"layout {layout!r}: expected 'tctcb' or 'pylate'")
        if layout == "pylate":
            from ._colbert_layouts import check_pylate_exportable

            check_pylate_exportable(self)
        p = Path(path)
        tmp = tmp_dir(p)  # written beside, then put in place: a kill never leaves half a checkpoint
        try:
            self.bert.save_pretrained(str(tmp))
            self.tokenizer.save_pretrained(str(tmp))
            if layout == "pylate":
                from ._colbert_layouts import write_pylate

                write_pylate(self, tmp)
            else:
                save_file({"weight": self.linear.weight.detach().cpu().contiguous()}, str(tmp / LINEAR_NAME))
                (tmp / CONFIG_NAME).write_text(json.dumps(self.config.to_json(), indent=2) + "\n")
            swap_dir(tmp, p)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return p

    # ---- tokenisation ---------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.linear.weight.device

    def _tokenize(self, texts: list[str], query: bool, padding: str) -> dict:
        """Input ids and attention of ``texts`` with the query's or the passage's marker, at most
        ``query_maxlen`` / ``doc_maxlen`` tokens (see :class:`ColBERTConfig` ``marker_token``)."""
        c, tok = self.config, self.tokenizer
        n = c.query_maxlen if query else c.doc_maxlen
        if not c.marker_token:
            marker = c.query_marker if query else c.doc_marker
            return dict(tok([f"{tok.cls_token} {marker} {t}" for t in texts], add_special_tokens=False,
                            truncation=True, max_length=n, padding=padding, return_tensors="pt"))
        mid = self._marker_ids[query]
        enc = tok(list(texts), truncation=True, max_length=n - (mid is not None), padding=padding, return_tensors="pt")
        out = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if mid is not None:  # the marker right after [CLS], attended to
            out = {"input_ids": _after_first(out["input_ids"], mid), "attention_mask": _after_first(out["attention_mask"], 1)}
        if "token_type_ids" in tok.model_input_names:  # BERT yes, MPNet has none
            out["token_type_ids"] = torch.zeros_like(out["input_ids"])
        return out

    def _query_inputs(self, queries: list[str]) -> tuple[dict, torch.Tensor]:
        """(model inputs, match mask [n, L]: 1 = the token takes part in MaxSim)."""
        c = self.config
        enc = self._tokenize(queries, True, "max_length" if c.query_expansion else "longest")
        ids, att = enc["input_ids"], enc["attention_mask"]
        ids[att == 0] = self._mask_id
        if not c.query_expansion:
            return enc, att.clone()
        if c.attend_to_mask_tokens:
            enc["attention_mask"] = torch.ones_like(ids)
        return enc, torch.ones_like(ids)

    def tokenize_queries(self, queries: list[str]) -> dict:
        """The query with its marker, truncated and padded with ``[MASK]`` to exactly ``query_maxlen`` tokens
        (query augmentation); tctcb's format: ``'[CLS] [Q] ' + q``, attention on every position."""
        return self._query_inputs(list(queries))[0]

    def tokenize_passages(self, passages: list[str]) -> dict:
        """The passage with its marker (tctcb's format: ``'[CLS] [D] ' + text``) truncated to ``doc_maxlen``
        tokens, padded to the longest."""
        return self._tokenize(list(passages), False, "longest")

    # ---- encoding -------------------------------------------------------------------------------
    def _vectors(self, enc: dict) -> torch.Tensor:
        enc = {k: v.to(self.device) for k, v in enc.items()}
        h = self.bert(**enc).last_hidden_state
        return nn.functional.normalize(self.linear(h), p=2, dim=-1)

    def encode_query(self, queries: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """([n, query_maxlen, dim] L2-normalised token vectors, [n, query_maxlen] match mask: ones with query
        expansion)."""
        enc, match = self._query_inputs(list(queries))
        return self._vectors(enc), match.to(self.device)

    def encode_passage(self, passages: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """([n, L, dim] L2-normalised token vectors, [n, L] match mask: 0 for padding and punctuation)."""
        enc = self.tokenize_passages(list(passages))
        mask = enc["attention_mask"].clone()
        if self._skiplist.numel():
            mask[torch.isin(enc["input_ids"], self._skiplist.cpu())] = 0
        return self._vectors(enc), mask.to(self.device)

    # ---- scoring --------------------------------------------------------------------------------
    @staticmethod
    def score(qv, qm, dv, dm) -> torch.Tensor:
        """MaxSim of aligned pairs (query i with passage i): [n]."""
        return maxsim(qv, qm, dv, dm)

    @staticmethod
    def score_all(qv, qm, dv, dm) -> torch.Tensor:
        """MaxSim of every query against every passage in the batch: [nq, np]."""
        return maxsim_all(qv, qm, dv, dm)

    def forward(self, queries: list[str], passages: list[str]) -> torch.Tensor:
        """Scores of every query against every passage: [len(queries), len(passages)]."""
        qv, qm = self.encode_query(queries)
        dv, dm = self.encode_passage(passages)
        return maxsim_all(qv, qm, dv, dm)

    @torch.no_grad()
    def passage_token_vectors(self, passages: list[str], batch_size: int = 32) -> list[torch.Tensor]:
        """Each passage's matchable token vectors, [n_i, dim] float (padding and punctuation dropped), on the
        model's device, encoded ``batch_size`` at a time in the order given (sort by length for less padding).
        What :meth:`maxsim_scores` takes: MaxSim reranking encodes each candidate once and keeps these."""
        out = []
        for s in range(0, len(passages), batch_size):
            dv, dm = self.encode_passage(list(passages[s:s + batch_size]))
            out.extend(dv[i][dm[i].bool()].float() for i in range(len(dv)))
        return out

    @torch.no_grad()
    def maxsim_scores(self, query: str, vectors: list[torch.Tensor]) -> torch.Tensor:
        """MaxSim of one query against passages given by :meth:`passage_token_vectors`: [len(vectors)] float."""
        qv, qm = self.encode_query([query])
        if not len(vectors):
            return qv.new_zeros(0, dtype=torch.float32)
        dv, dm = pad_token_vectors(vectors, qv.device)
        return self.score_all(qv.float(), qm, dv, dm)[0].float()

    def rerank(self, query: str, passages: list[str], batch_size: int = 32) -> list[float]:
        """MaxSim scores of one query against ``passages`` (inference; the same scores as ``MaxSimReranker``)."""
        return self.maxsim_scores(query, self.passage_token_vectors(passages, batch_size)).tolist()
