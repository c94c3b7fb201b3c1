"""The TCT-ColBERT student: a BERT encoder with mean pooling, in one of two formats (:mod:`._format`).

Format ``tct`` (the default), Pyserini's exact TCT-ColBERT input:

Query:    ``'[CLS] [Q] ' + q + '[MASK]' * 36``, tokenized without special tokens and truncated to 36
          tokens (so always exactly 36); embedding = mean of the last hidden states at positions 4..35.
Passage:  ``'[CLS] [D] ' + text`` (``'[CLS] [D] {title} {text}'`` with titles), no special tokens, at most
          512 tokens; embedding = mean of the last hidden states at positions 4.. over the attention mask.
Score:    dot product.

This is what ``pyserini.encode.TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder`` compute
(Lin et al., "In-Batch Negatives for Knowledge Distillation with Tightly-Coupled Teachers for Dense
Retrieval", RepL4NLP 2021), so a directory written by :meth:`TctColBert.save_pretrained` loads in
Pyserini unchanged, and castorini's checkpoints load here.

Format ``mean``: ``[CLS] text [SEP]`` (the backbone's own input; ``'{title} {text}'`` with titles), truncated
to the recorded ``query_max_length`` / ``doc_max_length``; embedding = mean of the last hidden states over the
attention mask, L2-normalised; score: dot product (= cosine).  What ``pyserini.encode.AutoQueryEncoder`` /
``AutoDocumentEncoder`` compute with ``pooling="mean", l2_norm=True`` (and sentence-transformers for
all-MiniLM-L6-v2).  :meth:`TctColBert.save_pretrained` records the format in ``tctcb_student.json``.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ._backbone import load_backbone, resolve_backbone
from ._format import (DOC_MAX_LENGTH, QUERY_LENGTH, StudentFormat, StudentFormatError, canonical_format,
                      student_format as read_format)
from tctcb._atomic import swap_dir, tmp_dir

__all__ = [
    "TctColBert",
    "QUERY_PREFIX",
    "DOC_PREFIX",
    "QUERY_LENGTH",
    "DOC_MAX_LENGTH",
    "SKIP_TOKENS",
    "query_strings",
    "passage_strings",
    "mean_pool",
    "normalized_mean_pool",
]

QUERY_PREFIX = "[CLS] [Q] "
DOC_PREFIX = "[CLS] [D] "
SKIP_TOKENS = 4  # [CLS] [ q ]  /  [CLS] [ d ]  -- the marker wordpieces are left out of the pooling


def query_strings(queries: Sequence[str]) -> list[str]:
    """The literal strings Pyserini tokenizes for queries."""
    return [QUERY_PREFIX + q + "[MASK]" * QUERY_LENGTH for q in queries]


def passage_strings(texts: Sequence[str], titles: Sequence[str] | None = None) -> list[str]:
    """The literal strings Pyserini tokenizes for passages (with or without titles)."""
    if titles is not None:
        if len(titles) != len(texts):
            raise ValueError(f"{len(titles)} titles for {len(texts)} texts")
        return [f"{DOC_PREFIX}{title} {text}" for title, text in zip(titles, texts)]
    return [DOC_PREFIX + t for t in texts]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor | None, skip: int = SKIP_TOKENS) -> torch.Tensor:
    """Mean of ``hidden[:, skip:]`` over ``mask[:, skip:]`` (all positions when ``mask`` is None).

    An empty passage (no token after the markers) gives the zero vector, as in Pyserini.
    """
    h = hidden[:, skip:, :]
    if mask is None:
        return h.mean(dim=1)
    m = mask[:, skip:].unsqueeze(-1).to(h.dtype)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


def normalized_mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Format ``mean`` (and sentence-transformers' mean pooling + Normalize): the masked mean over every
    token, L2-normalised."""
    return nn.functional.normalize(mean_pool(hidden, mask, skip=0), p=2, dim=-1)


def _write_vocab_txt(tokenizer, directory: Path) -> None:
    """``vocab.txt`` beside ``tokenizer.json`` (transformers 5 writes only the latter), so that older
    transformers and Pyserini versions load the checkpoint too."""
    vocab = tokenizer.get_vocab()
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        return  # not a plain contiguous WordPiece vocabulary; tokenizer.json alone describes it
    (directory / "vocab.txt").write_text("".join(tok + "\n" for tok, _ in by_id), encoding="utf-8")


class TctColBert(nn.Module):
    """TCT-ColBERT bi-encoder (student). ``bert`` is a ``transformers.BertModel``; ``tokenizer`` its tokenizer;
    ``fmt`` its :class:`~tctcb.models._format.StudentFormat` (default ``tct``)."""

    def __init__(self, bert, tokenizer, fmt: StudentFormat | None = None):
        super().__init__()
        self.bert = bert
        self.tokenizer = tokenizer
        self.fmt = fmt or StudentFormat()

    # -- persistence ---------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, student_format: str | None = None) -> "TctColBert":
        """Load from a BERT-family HF directory (a student saved here, a castorini TCT checkpoint, or a backbone
        such as all-MiniLM-L6-v2 -- the default when ``path`` is None).  The format is the folder's record
        (``tctcb_student.json``); a folder without one loads as ``student_format`` (default ``tct``).  Asking
        for a format the folder records otherwise is a :class:`StudentFormatError`."""
        p = resolve_backbone(path)
        asked = canonical_format(student_format) if student_format else None
        fmt = read_format(p, default=asked or "tct")
        if asked and fmt.format != asked:
            raise StudentFormatError(f"{p} is a {fmt.format!r} student ({fmt.source}), not {student_format!r}: "
                                     f"ask for --student-format {fmt.format}, or start from another folder")
        bert, tokenizer = load_backbone(p)
        return cls(bert, tokenizer, fmt)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write ``BertModel`` weights + config + tokenizer (Pyserini-loadable) and the format record
        (``tctcb_student.json``), atomically.  A ``mean`` student's tokenizer records ``model_max_length`` =
        ``query_max_length``: Pyserini's ``AutoQueryEncoder`` truncates there."""
        target = Path(path)
        tmp = tmp_dir(target)
        before = self.tokenizer.model_max_length
        try:
            self.bert.save_pretrained(str(tmp))
            if self.fmt.normalized:
                self.tokenizer.model_max_length = self.fmt.query_max_length
            self.tokenizer.save_pretrained(str(tmp))
            _write_vocab_txt(self.tokenizer, tmp)
            self.fmt.write(tmp)
            swap_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            self.tokenizer.model_max_length = before
        return target

    # -- tokenization --------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.bert.parameters()).device

    @property
    def dimension(self) -> int:
        return int(self.bert.config.hidden_size)

    @property
    def normalized(self) -> bool:
        """Unit-length embeddings (format ``mean``): scores are cosines, in [-1, 1]."""
        return self.fmt.normalized

    def tokenize_queries(self, queries: Sequence[str]):
        """Tensors for ``queries`` (tct: each exactly 36 tokens), on the model's device."""
        if self.normalized:
            enc = self.tokenizer(list(queries), max_length=self.fmt.query_max_length, truncation=True,
                                 add_special_tokens=True, padding="longest", return_tensors="pt")
            return enc.to(self.device)
        enc = self.tokenizer(
            query_strings(queries),
            max_length=QUERY_LENGTH,
            truncation=True,
            add_special_tokens=False,
            padding="longest",
            return_tensors="pt",
        )
        return enc.to(self.device)

    def tokenize_passages(self, texts: Sequence[str], titles: Sequence[str] | None = None, max_length: int | None = None):
        """Padded tensors for passages, on the model's device (``max_length`` default and upper bound: the
        format's ``doc_max_length``, where inference cuts them)."""
        max_length = min(max_length or self.fmt.doc_max_length, self.fmt.doc_max_length)
        if self.normalized:
            if titles is not None:
                if len(titles) != len(texts):
                    raise ValueError(f"{len(titles)} titles for {len(texts)} texts")
                texts = [f"{title} {text}" for title, text in zip(titles, texts)]  # as Pyserini's AutoDocumentEncoder
            enc = self.tokenizer(list(texts), max_length=max_length, truncation=True, add_special_tokens=True,
                                 padding="longest", return_tensors="pt")
            return enc.to(self.device)
        enc = self.tokenizer(
            passage_strings(texts, titles),
            max_length=max_length,
            truncation=True,
            add_special_tokens=False,
            padding="longest",
            return_tensors="pt",
        )
        return enc.to(self.device)

    # -- encoding ------------------------------------------------------------------------------
    def forward_query(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.normalized:
            return normalized_mean_pool(out, attention_mask)
        return mean_pool(out, None)  # queries are exactly 36 tokens: a plain mean, as Pyserini's np.average

    def forward_passage(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.normalized:
            return normalized_mean_pool(out, attention_mask)
        return mean_pool(out, attention_mask)

    def encode_query(self, queries: Sequence[str]) -> torch.Tensor:
        """``[n, d]`` query embeddings (differentiable when grad is enabled)."""
        enc = self.tokenize_queries(list(queries))
        return self.forward_query(enc["input_ids"], enc["attention_mask"])

    def encode_passage(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                       max_length: int | None = None) -> torch.Tensor:
        """``[n, d]`` passage embeddings (differentiable when grad is enabled)."""
        enc = self.tokenize_passages(list(texts), titles, max_length)
        return self.forward_passage(enc["input_ids"], enc["attention_mask"])

    @staticmethod
    def score(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Dot products (cosines for ``mean``): ``[nq, d] x [np, d] -> [nq, np]`` (all pairs; the diagonal holds aligned pairs)."""
        return q @ p.transpose(-1, -2)

    def forward(self, queries: Sequence[str], passages: Sequence[str]) -> torch.Tensor:
        """All-pairs scores of ``queries`` against ``passages`` (in-batch training)."""
        return self.score(self.encode_query(queries), self.encode_passage(passages))
