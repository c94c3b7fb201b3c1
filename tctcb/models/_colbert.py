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
"""
from __future__ import annotations

import json
import shutil
import string
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from tctcb._atomic import swap_dir, tmp_dir
from tctcb._command import UserError

__all__ = ["ColBERT", "ColBERTConfig", "ColBERTError", "maxsim", "maxsim_all", "CONFIG_NAME", "LINEAR_NAME"]

CONFIG_NAME = "tctcb_colbert.json"
LINEAR_NAME = "colbert_linear.safetensors"
_NEG = -1e4  # stands in for -inf on masked passage tokens (finite, so 0 * _NEG stays 0 and bf16 is safe)


class ColBERTError(UserError, ValueError):
    """A directory is not a ColBERT checkpoint, or the inputs don't fit the model."""


@dataclass
class ColBERTConfig:
    dim: int = 128
    query_maxlen: int = 32
    doc_maxlen: int = 180
    query_marker: str = "[Q]"
    doc_marker: str = "[D]"
    mask_punctuation: bool = True
    format: str = "tctcb-colbert-v1"


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
        skip = set()
        if self.config.mask_punctuation:
            for ch in string.punctuation:
                ids = tokenizer.encode(ch, add_special_tokens=False)
                if len(ids) == 1:
                    skip.add(ids[0])
        self.register_buffer("_skiplist", torch.tensor(sorted(skip), dtype=torch.long), persistent=False)

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
        """Load a checkpoint written by :meth:`save_pretrained`; any other directory raises
        :class:`ColBERTError` saying what is missing."""
        from safetensors.torch import load_file

        from ._backbone import ENCODER_FAMILY, load_backbone

        p = Path(path)
        if not p.is_dir():
            raise ColBERTError(f"ColBERT checkpoint {p} does not exist")
        cfg_file, lin_file = p / CONFIG_NAME, p / LINEAR_NAME
        missing = [f.name for f in (cfg_file, lin_file) if not f.is_file()]
        if missing:
            found = sorted(x.name for x in p.iterdir())[:12]
            raise ColBERTError(f"{p} is not a ColBERT checkpoint: missing {missing} (found: {found or 'nothing'}); "
                               f"a plain backbone starts a new teacher with ColBERT.from_backbone(dir)")
        try:
            raw = json.loads(cfg_file.read_text())
        except json.JSONDecodeError as e:
            raise ColBERTError(f"{cfg_file} is not valid JSON: {e}") from e
        known = {f.name for f in fields(ColBERTConfig)}
        unknown = sorted(set(raw) - known)
        if unknown or raw.get("format") != ColBERTConfig.format:
            raise ColBERTError(f"{cfg_file}: format {raw.get('format')!r}, unknown keys {unknown}; "
                               f"expected format {ColBERTConfig.format!r} with keys {sorted(known)}")
        config = ColBERTConfig(**raw)
        bert, tok = load_backbone(p, families=ENCODER_FAMILY)
        state = load_file(str(lin_file))
        if set(state) != {"weight"}:
            raise ColBERTError(f"{lin_file} should hold one tensor 'weight', found {sorted(state)}")
        w = state["weight"]
        linear = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            linear.weight.copy_(w)
        return cls(bert, tok, config, linear).to(device)

    def save_pretrained(self, path) -> Path:
        from safetensors.torch import save_file

        p = Path(path)
        tmp = tmp_dir(p)  # written beside, then put in place: a kill never leaves half a checkpoint
        try:
            self.bert.save_pretrained(str(tmp))
            self.tokenizer.save_pretrained(str(tmp))
            save_file({"weight": self.linear.weight.detach().cpu().contiguous()}, str(tmp / LINEAR_NAME))
            (tmp / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2) + "\n")
            swap_dir(tmp, p)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return p

    # ---- tokenisation ---------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.linear.weight.device

    def tokenize_queries(self, queries: list[str]) -> dict:
        """``'[CLS] [Q] ' + q``, truncated and padded with ``[MASK]`` to exactly ``query_maxlen`` tokens,
        attention on every position."""
        n = self.config.query_maxlen
        enc = self.tokenizer([f"{self.tokenizer.cls_token} {self.config.query_marker} {q}" for q in queries],
                             add_special_tokens=False, truncation=True, max_length=n, padding="max_length",
                             return_tensors="pt")
        ids = enc["input_ids"]
        ids[enc["attention_mask"] == 0] = self._mask_id
        out = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if "token_type_ids" in self.tokenizer.model_input_names:  # BERT yes, MPNet has none
            out["token_type_ids"] = torch.zeros_like(ids)
        return out

    def tokenize_passages(self, passages: list[str]) -> dict:
        """``'[CLS] [D] ' + text`` truncated to ``doc_maxlen`` tokens, padded to the longest."""
        return dict(self.tokenizer([f"{self.tokenizer.cls_token} {self.config.doc_marker} {t}" for t in passages],
                                   add_special_tokens=False, truncation=True, max_length=self.config.doc_maxlen,
                                   padding="longest", return_tensors="pt"))

    # ---- encoding -------------------------------------------------------------------------------
    def _vectors(self, enc: dict) -> torch.Tensor:
        enc = {k: v.to(self.device) for k, v in enc.items()}
        h = self.bert(**enc).last_hidden_state
        return nn.functional.normalize(self.linear(h), p=2, dim=-1)

    def encode_query(self, queries: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """([n, query_maxlen, dim] L2-normalised token vectors, [n, query_maxlen] mask of ones)."""
        enc = self.tokenize_queries(list(queries))
        return self._vectors(enc), enc["attention_mask"].to(self.device)

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
        dv = nn.utils.rnn.pad_sequence([v.to(qv.device) for v in vectors], batch_first=True)
        dm = nn.utils.rnn.pad_sequence([torch.ones(len(v), dtype=torch.long, device=qv.device) for v in vectors],
                                       batch_first=True)
        return self.score_all(qv.float(), qm, dv, dm)[0].float()

    def rerank(self, query: str, passages: list[str], batch_size: int = 32) -> list[float]:
        """MaxSim scores of one query against ``passages`` (inference; the same scores as ``MaxSimReranker``)."""
        return self.maxsim_scores(query, self.passage_token_vectors(passages, batch_size)).tolist()
