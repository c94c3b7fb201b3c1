"""Query and document encoders: Pyserini's numbers, computed faster.

``TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder`` give the same vectors as
``pyserini.encode.TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder`` on the same weights (same
input strings, tokenizer, truncation and pooling; see :mod:`tctcb.models._student`).  They are faster
because documents are tokenized once without padding, sorted by length and cut into batches by a token
budget (little padding), run under ``torch.inference_mode``, and queries -- always exactly 36 tokens --
are encoded in batches (Pyserini encodes them one at a time).

``SentenceTransformerEncoder`` encodes the student format ``mean`` (``[CLS] text [SEP]``, mean over all
attended tokens, L2-normalised): a ``mean`` student saved by :meth:`tctcb.models.TctColBert.save_pretrained`, or
a sentence-transformers folder such as all-MiniLM-L6-v2 (the zero-shot baseline) -- the vectors of Pyserini's
``AutoQueryEncoder`` / ``AutoDocumentEncoder`` with ``pooling="mean", l2_norm=True``.  ``st`` is that format's
older name, still accepted wherever a pooling is given or recorded.

:func:`choose_format` decides which format a model folder is encoded in (once, for every command).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from tctcb._command import UserError
from tctcb.models import (
    STUDENT_CONFIG,
    BERT_FAMILY,
    ENCODER_FAMILY,
    load_backbone,
    pick_device,
    DOC_MAX_LENGTH,
    QUERY_LENGTH,
    SKIP_TOKENS,
    StudentFormatError,
    canonical_format,
    mean_pool,
    normalized_mean_pool,
    passage_strings,
    query_strings,
    st_max_length,
    student_format,
)

__all__ = [
    "TctColBertQueryEncoder",
    "TctColBertDocumentEncoder",
    "SentenceTransformerEncoder",
    "EncodeStats",
    "load_document_encoder",
    "load_query_encoder",
    "POOLINGS",
    "POOLING_CHOICES",
    "FormatChoice",
    "choose_format",
    "query_encoder_pooling",
    "st_pool",
    "st_embed",
    "tct_query_pool",
    "st_max_length",
    "POOLS",
]

POOLINGS = ("tct", "mean")
#: what a ``--pooling`` option accepts: the formats, and ``st`` (= ``mean``) so that recorded commands keep working
POOLING_CHOICES = ("tct", "mean", "st")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Per-batch budgets.  On CPU small batches are faster per token (activations stay in cache): on
# this project's 2-core CPU, 300 NFCorpus passages took 8% less time at 2,048 tokens per batch than
# at 8,192; the 323 NFCorpus test queries (7 tokens on average), sorted together, took 1.7 s in
# batches of at most 32 rows, 2.5 s at 128 and 4.1 s unbounded (one torch thread, under load).
# On a GPU large batches fill the device.
#: token budget per batch (rows x longest row) by device type; ``--batch-tokens`` help reads it from here
DEFAULT_BATCH_TOKENS = {"cpu": 2048, "cuda": 262144}
_DEFAULT_MAX_BATCH = {"cpu": 32, "cuda": 4096}


@dataclass
class EncodeStats:
    """Counts of unusual inputs seen while tokenizing documents."""

    count: int = 0
    empty: int = 0  # empty or whitespace-only texts (encoded anyway)
    truncated: int = 0  # longer than the model's limit (cut to it)
    truncated_examples: list = field(default_factory=list)  # first few indices (within the call)

    def add(self, other: "EncodeStats") -> None:
        self.count += other.count
        self.empty += other.empty
        self.truncated += other.truncated

    def as_dict(self) -> dict:
        return {"count": self.count, "empty": self.empty, "truncated": self.truncated}


#: format ``mean``'s pooling (sentence-transformers' mean + Normalize): masked mean over every token, L2-normalised
st_pool = normalized_mean_pool


def tct_query_pool(hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """TCT-ColBERT query pooling: queries are exactly 36 tokens, a plain mean over positions 4.. (no mask)."""
    return mean_pool(hidden, None)


#: the poolings by name: the engine's runners (PyTorch model, ONNX graph) take a name, so that an exported graph
#: computes the same function (``python -m tctcb.export`` traces these into the graphs); ``st`` is format ``mean``'s
#: (the name ONNX exports record for their graph)
POOLS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tct-query": tct_query_pool,
    "tct-document": mean_pool,
    "st": st_pool,
}


class _TorchRunner:
    """The engine's model call in PyTorch: ``runner(input_ids, mask, pool, full)`` -> pooled ``[b, d]`` float32."""

    def __init__(self, model):
        self.model = model

    def __call__(self, input_ids: torch.Tensor, mask: torch.Tensor, pool: str, full: bool = False) -> torch.Tensor:
        # rows of equal length (all queries; many sorted batches): no mask, so attention takes its fast path
        hidden = self.model(input_ids=input_ids, attention_mask=None if full else mask).last_hidden_state
        return POOLS[pool](hidden.float(), mask)


class _Engine:
    """Length-sorted, token-budget batching over pre-tokenized inputs, and the model call (a runner): the
    PyTorch model (``backend="torch"``) or an exported ONNX graph (``backend="onnx"``, see :mod:`._onnx`).
    ``backend=None``: ONNX for an export folder, else PyTorch."""

    def __init__(self, encoder_dir, device="cpu", dtype: str | None = "fp32", batch_tokens: int | None = None,
                 max_batch: int | None = None, families: frozenset[str] = BERT_FAMILY, backend: str | None = None,
                 pools: tuple[str, ...] = ()):
        from ._onnx import resolve_backend

        self.device = pick_device(device or "cpu")
        self.backend = resolve_backend(encoder_dir, backend)
        self.encoder_dir = str(encoder_dir) if encoder_dir is not None else None
        self.max_length = None  # the model's own input limit, where the folder records one (an ONNX export)
        if self.backend == "onnx":
            from ._onnx import OnnxError, OnnxRunner

            if dtype not in (None, "fp32"):
                raise OnnxError(f"--{dtype}: an ONNX export runs in the precision it was exported in (fp32, or int8 "
                                "with python -m tctcb.export --quantize int8); drop the option")
            self.runner = OnnxRunner(encoder_dir, self.device, pools)
            self.model, self.tokenizer = None, self.runner.tokenizer
            self.dtype, self.dimension, self.max_length = self.runner.dtype, self.runner.dimension, self.runner.max_length
        else:
            dtype = dtype or "fp32"
            if dtype not in _DTYPES:
                raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
            if self.device.type == "cpu" and dtype == "fp16":
                raise UserError("--fp16 needs a CUDA device (use --bf16 or --fp32 on the CPU)")
            self.model, self.tokenizer = load_backbone(encoder_dir, families=families)
            self.model.eval().to(self.device, dtype=_DTYPES[dtype])
            self.runner = _TorchRunner(self.model)
            self.dtype = dtype
            self.dimension = int(self.model.config.hidden_size)
        self.batch_tokens = int(batch_tokens or DEFAULT_BATCH_TOKENS.get(self.device.type, DEFAULT_BATCH_TOKENS["cpu"]))
        self.max_batch = int(max_batch or _DEFAULT_MAX_BATCH.get(self.device.type, 4096))
        self.pad_id = self.tokenizer.pad_token_id or 0

    def plan(self, lengths: Sequence[int]) -> list[np.ndarray]:
        """Index arrays, longest first, each batch's ``rows * longest`` within the token budget."""
        lengths = np.asarray(lengths, dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        batches, start, n = [], 0, len(order)
        while start < n:
            longest = max(int(lengths[order[start]]), 1)
            rows = max(1, min(self.max_batch, self.batch_tokens // longest, n - start))
            batches.append(order[start:start + rows])
            start += rows
        return batches

    def pad(self, ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        longest = max(len(x) for x in ids)
        arr = np.full((len(ids), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), longest), dtype=np.int64)
        for i, x in enumerate(ids):
            arr[i, :len(x)] = x
            mask[i, :len(x)] = 1
        return torch.from_numpy(arr), torch.from_numpy(mask)

    def run(self, ids: Sequence[Sequence[int]], pool: str) -> np.ndarray:
        """Embeddings ``[len(ids), d]`` float32 in input order, pooled by ``POOLS[pool]``."""
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        if not len(ids):
            return out
        # CPU tensors in, CPU tensors out, batch by batch (ONNX on any device: onnxruntime places its tensors itself)
        sync_each = self.device.type != "cuda" or self.backend == "onnx"
        with torch.inference_mode():
            if sync_each:
                for idx in self.plan([len(x) for x in ids]):
                    input_ids, mask = self.pad([ids[i] for i in idx])
                    out[idx] = self.runner(input_ids, mask, pool, bool(mask.all())).numpy()
                return out
            # CUDA: queue every batch without waiting (pinned copies, results kept on the device), one sync at the end
            plan = self.plan([len(x) for x in ids])
            results = []
            for idx in plan:
                input_ids, mask = self.pad([ids[i] for i in idx])
                input_ids = input_ids.pin_memory().to(self.device, non_blocking=True)
                full = bool(mask.all())
                mask = mask.pin_memory().to(self.device, non_blocking=True)
                results.append(self.runner(input_ids, mask, pool, full))
            out[np.concatenate(plan)] = torch.cat(results).cpu().numpy()
        return out


_USE = {
    "tct": "tctcb.encode.TctColBertQueryEncoder / TctColBertDocumentEncoder (pooling tct; in Pyserini: "
           "TctColBertQueryEncoder / TctColBertDocumentEncoder)",
    "mean": "tctcb.encode.SentenceTransformerEncoder (pooling mean; in Pyserini: AutoQueryEncoder / "
            "AutoDocumentEncoder with pooling='mean', l2_norm=True)",
}


def _recorded_format(encoder_dir, cls_name: str, pooling: str):
    """The :class:`~tctcb.models.StudentFormat` of a model folder; a :class:`~tctcb.models.StudentFormatError`
    naming the class to use instead when the folder records a format other than ``pooling`` (an ONNX export
    records its pooling itself: None)."""
    from ._onnx import is_onnx_export

    if encoder_dir is None or is_onnx_export(encoder_dir):
        return None
    fmt = student_format(encoder_dir)
    if (Path(encoder_dir) / STUDENT_CONFIG).is_file() and fmt.format != pooling:
        raise StudentFormatError(f"{encoder_dir} is a {fmt.format!r} student ({fmt.source}): {cls_name} encodes "
                                 f"format {pooling!r}; use {_USE[fmt.format]}")
    return fmt


class TctColBertQueryEncoder:
    """TCT-ColBERT queries, as ``pyserini.encode.TctColBertQueryEncoder`` (plus a batch path)."""

    plans_batches = True  # encode_batch sorts by length and batches by budget itself

    pooling = "tct"

    def __init__(self, encoder_dir=None, device="cpu", dtype: str | None = "fp32", batch_size: int = 256,
                 backend: str | None = None, **kwargs):
        _recorded_format(encoder_dir, type(self).__name__, "tct")
        self._engine = _Engine(encoder_dir, device, dtype, backend=backend, pools=("tct-query",))
        self.tokenizer = self._engine.tokenizer
        self.model = self._engine.model
        self.device = self._engine.device
        self.dimension = self._engine.dimension
        self.backend, self.dtype = self._engine.backend, self._engine.dtype  # what encoded (recorded in meta.json)
        self.batch_size = batch_size

    def tokenize(self, queries: Sequence[str]) -> list[list[int]]:
        return self.tokenizer(query_strings(queries), max_length=QUERY_LENGTH, truncation=True,
                              add_special_tokens=False)["input_ids"]

    def encode_batch(self, queries: Sequence[str], **kwargs) -> np.ndarray:
        """``[n, d]`` float32 embeddings of ``queries`` (in order)."""
        queries = list(queries)
        out = np.empty((len(queries), self.dimension), dtype=np.float32)
        for s in range(0, len(queries), self.batch_size):
            ids = self.tokenize(queries[s:s + self.batch_size])
            out[s:s + len(ids)] = self._engine.run(ids, "tct-query")
        return out

    def encode(self, query: str, **kwargs) -> np.ndarray:
        """``[d]`` float32 embedding of one query (what Pyserini's ``encode`` returns)."""
        return self.encode_batch([query])[0]


class TctColBertDocumentEncoder:
    """TCT-ColBERT documents, as ``pyserini.encode.TctColBertDocumentEncoder``, length-sorted and batched."""

    plans_batches = True  # encode_batch sorts by length and batches by budget itself

    pooling = "tct"

    def __init__(self, encoder_dir=None, device="cpu", dtype: str | None = "fp32", batch_tokens: int | None = None,
                 max_length: int | None = None, backend: str | None = None, **kwargs):
        _recorded_format(encoder_dir, type(self).__name__, "tct")
        self._engine = _Engine(encoder_dir, device, dtype, batch_tokens, backend=backend, pools=("tct-document",))
        self.tokenizer = self._engine.tokenizer
        self.model = self._engine.model
        self.device = self._engine.device
        self.dimension = self._engine.dimension
        self.backend, self.dtype = self._engine.backend, self._engine.dtype  # what encoded (recorded in meta.json)
        self.max_length = int(max_length or self._engine.max_length or DOC_MAX_LENGTH)
        self.stats = EncodeStats()  # running totals over all calls

    def tokenize(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> tuple[list[list[int]], EncodeStats]:
        """Token ids (truncated to ``max_length``) plus counts of empty and truncated texts."""
        strings = passage_strings(texts, titles)
        # one token more than the limit tells truncated texts apart; cutting it off gives the same ids
        ids = self.tokenizer(strings, max_length=self.max_length + 1, truncation=True,
                             add_special_tokens=False)["input_ids"]
        st = EncodeStats(count=len(ids))
        for i, x in enumerate(ids):
            if len(x) > self.max_length:
                ids[i] = x[:self.max_length]
                st.truncated += 1
                if len(st.truncated_examples) < 5:
                    st.truncated_examples.append(i)
            if len(x) <= SKIP_TOKENS:
                st.empty += 1
        return ids, st

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        return self._engine.run(ids, "tct-document")

    def encode(self, texts: Sequence[str], titles: Sequence[str] | None = None, **kwargs) -> np.ndarray:
        """``[n, d]`` float32 embeddings of ``texts`` (in order)."""
        ids, st = self.tokenize(list(texts), None if titles is None else list(titles))
        self.stats.add(st)
        return self.encode_ids(ids)


def st_embed(model, tokenizer, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Format ``mean`` embeddings of ``texts`` in one torch call (``[CLS] text [SEP]``, :func:`st_pool`), on
    the model's device, in the autograd graph when gradients are on: what the trainer uses (the anchor, dense
    mining).  :class:`SentenceTransformerEncoder` encodes the same way for inference, in token-budget batches."""
    enc = tokenizer(list(texts), max_length=max_length, truncation=True, padding="longest", add_special_tokens=True,
                    return_tensors="pt").to(model.device)
    hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    return st_pool(hidden, enc["attention_mask"])


class SentenceTransformerEncoder:
    """Format ``mean`` (``[CLS] text [SEP]``, masked mean over all tokens, L2-normalised) for queries and
    documents, truncated at the folder's recorded ``query_max_length`` / ``doc_max_length`` (a student's
    ``tctcb_student.json``; else ``max_seq_length`` from ``sentence_bert_config.json`` for both).  Any BERT or
    MPNet folder (e.g. ``all-mpnet-base-v2``, resolved by name: :func:`tctcb.models._backbone.resolve_backbone`);
    a folder recorded as a ``tct`` student is refused.

    ``encode(str)`` -> ``[d]`` (a query), ``encode(list, titles=None)`` -> ``[n, d]`` (documents;
    with titles the text is ``title + " " + text``, stripped, as MTEB/BEIR do)."""

    plans_batches = True  # encode_batch sorts by length and batches by budget itself

    pooling = "mean"

    def __init__(self, encoder_dir=None, device="cpu", dtype: str | None = "fp32", batch_tokens: int | None = None,
                 max_length: int | None = None, backend: str | None = None, query_max_length: int | None = None,
                 **kwargs):
        from tctcb.models import resolve_backbone

        encoder_dir = resolve_backbone(encoder_dir)
        fmt = _recorded_format(encoder_dir, type(self).__name__, "mean")
        recorded = fmt is not None and fmt.format == "mean"
        self._engine = _Engine(encoder_dir, device, dtype, batch_tokens, families=ENCODER_FAMILY, backend=backend,
                               pools=("st",))
        self.tokenizer = self._engine.tokenizer
        self.model = self._engine.model
        self.device = self._engine.device
        self.dimension = self._engine.dimension
        self.backend, self.dtype = self._engine.backend, self._engine.dtype  # what encoded (recorded in meta.json)
        self.max_length = int(max_length or self._engine.max_length
                              or (fmt.doc_max_length if recorded else st_max_length(encoder_dir)))
        self.query_max_length = int(query_max_length or self._engine.max_length
                                    or (fmt.query_max_length if recorded else st_max_length(encoder_dir)))
        self.stats = EncodeStats()

    def tokenize(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                 max_length: int | None = None) -> tuple[list[list[int]], EncodeStats]:
        """Token ids of documents (``max_length`` default: the document limit) plus counts of empty and truncated ones."""
        max_length = max_length or self.max_length
        if titles is not None:
            texts = [f"{t} {x}".strip() for t, x in zip(titles, texts)]
        ids = self.tokenizer(list(texts), max_length=max_length + 1, truncation=True,
                             add_special_tokens=True)["input_ids"]
        st = EncodeStats(count=len(ids))
        for i, x in enumerate(ids):
            if len(x) > max_length:
                ids[i] = x[:max_length - 1] + [x[-1]]  # keep [SEP], as truncation to max_length does
                st.truncated += 1
            if len(x) <= 2:
                st.empty += 1
        return ids, st

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        return self._engine.run(ids, "st")

    def encode_batch(self, queries: Sequence[str], **kwargs) -> np.ndarray:
        """``[n, d]`` query embeddings (truncated at the query limit)."""
        ids, _ = self.tokenize(list(queries), max_length=self.query_max_length)
        return self.encode_ids(ids)

    def encode(self, texts, titles: Sequence[str] | None = None, **kwargs) -> np.ndarray:
        if isinstance(texts, str):
            return self.encode_batch([texts])[0]
        ids, st = self.tokenize(list(texts), None if titles is None else list(titles))
        self.stats.add(st)
        return self.encode_ids(ids)


@dataclass(frozen=True)
class FormatChoice:
    """The format a model folder is encoded in (``tct`` or ``mean``) and how that was decided."""

    pooling: str
    source: str

    def line(self) -> str:
        """What the commands print: ``format: mean (recorded in DIR/tctcb_student.json)``."""
        return f"format: {self.pooling} ({self.source})"


def _meta_pooling(index_dir) -> tuple[str | None, Path | None]:
    meta = Path(index_dir) / "meta.json" if index_dir is not None else None
    if meta is None or not meta.is_file():
        return None, None
    try:
        pooling = json.loads(meta.read_text()).get("pooling")
    except (ValueError, AttributeError):
        return None, meta
    try:
        return (canonical_format(str(pooling)) if pooling else None), meta
    except ValueError:
        return None, meta


def choose_format(encoder_dir, index_dir=None, requested: str | None = None) -> FormatChoice:
    """The format ``encoder_dir`` is encoded in: an ONNX export's own; else the folder's record
    (``tctcb_student.json``); else ``requested``; else the index's ``meta.json``; else ``mean`` for a
    sentence-transformers folder (``modules.json``), else ``tct``.  ``st`` is read as ``mean``.  A request, or an
    index, that contradicts the export or the record is a one-line :class:`~tctcb._command.UserError`."""
    from ._onnx import OnnxError, is_onnx_export, read_onnx_config

    requested = canonical_format(requested) if requested else None
    recorded_by_index, meta = _meta_pooling(index_dir)
    if is_onnx_export(encoder_dir):
        pooling = canonical_format(read_onnx_config(encoder_dir)["pooling"])
        if requested and requested != pooling:
            raise OnnxError(f"--pooling {requested}: the ONNX export {encoder_dir} computes pooling {pooling!r} "
                            "(export the model again with the pooling you want)")
        if recorded_by_index and recorded_by_index != pooling:
            raise OnnxError(f"the ONNX export {encoder_dir} computes pooling {pooling!r} but {meta} records "
                            f"{recorded_by_index!r}: queries must be encoded as the documents were")
        return FormatChoice(pooling, f"the ONNX export's {Path(encoder_dir) / 'tctcb-onnx.json'}")
    fmt = student_format(encoder_dir) if encoder_dir is not None else None
    if fmt is not None and (Path(encoder_dir) / STUDENT_CONFIG).is_file():
        if requested and requested != fmt.format:
            raise StudentFormatError(f"--pooling {requested}: {encoder_dir} is a {fmt.format!r} student ({fmt.source}); "
                                     "drop --pooling")
        if recorded_by_index and recorded_by_index != fmt.format:
            raise StudentFormatError(f"{encoder_dir} is a {fmt.format!r} student ({fmt.source}) but the index's {meta} "
                                     f"records pooling {recorded_by_index!r}: encode queries with the model that "
                                     "encoded the documents")
        return FormatChoice(fmt.format, fmt.source)
    if requested:
        return FormatChoice(requested, "--pooling")
    if recorded_by_index:
        return FormatChoice(recorded_by_index, f"recorded in {meta}")
    if fmt is None:
        return FormatChoice("tct", "the default")
    return FormatChoice(fmt.format, fmt.source)


def query_encoder_pooling(encoder_dir: Path, index_dir: Path | None, requested: str | None) -> str:
    """:func:`choose_format`'s format under the names callers from before ``mean`` compare with: ``tct`` or
    ``st`` (= ``mean``; :func:`load_query_encoder` and :func:`load_document_encoder` take either)."""
    pooling = choose_format(encoder_dir, index_dir, requested).pooling
    return "st" if pooling == "mean" else pooling


def load_document_encoder(encoder_dir, pooling: str | None = None, **kwargs):
    """The document encoder for ``pooling`` (``"tct"`` or ``"mean"``, alias ``"st"``; None: the folder's own, as
    :func:`choose_format` decides); ``backend=`` (in ``kwargs``): ``"torch"``, ``"onnx"`` or None (ONNX for an
    export folder of ``python -m tctcb.export``, else PyTorch)."""
    if canonical_format(pooling or choose_format(encoder_dir).pooling) == "tct":
        return TctColBertDocumentEncoder(encoder_dir, **kwargs)
    return SentenceTransformerEncoder(encoder_dir, **kwargs)


def load_query_encoder(encoder_dir, pooling: str | None = None, **kwargs):
    """The query encoder for ``pooling`` (None: the folder's own, as :func:`choose_format` decides; an index's
    ``meta.json`` records which one it was built with).  ``backend=`` as for :func:`load_document_encoder` (an ONNX
    export folder is encoded through its graph).  ``DenseSearcher(index_dir, load_query_encoder(checkpoint))``
    encodes queries as the checkpoint's format says."""
    if canonical_format(pooling or choose_format(encoder_dir).pooling) == "tct":
        return TctColBertQueryEncoder(encoder_dir, **kwargs)
    return SentenceTransformerEncoder(encoder_dir, **kwargs)
