"""Query and document encoders: Pyserini's numbers, computed faster.

``TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder`` give the same vectors as
``pyserini.encode.TctColBertQueryEncoder`` / ``TctColBertDocumentEncoder`` on the same weights (same
input strings, tokenizer, truncation and pooling; see :mod:`tctcb.models._student`).  They are faster
because documents are tokenized once without padding, sorted by length and cut into batches by a token
budget (little padding), run under ``torch.inference_mode``, and queries -- always exactly 36 tokens --
are encoded in batches (Pyserini encodes them one at a time).

``SentenceTransformerEncoder`` is the sentence-transformers format of the same backbone (``[CLS] text
[SEP]``, mean over all tokens, L2-normalised), for the zero-shot baseline.
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
    BERT_FAMILY,
    ENCODER_FAMILY,
    load_backbone,
    pick_device,
    DOC_MAX_LENGTH,
    QUERY_LENGTH,
    SKIP_TOKENS,
    mean_pool,
    passage_strings,
    query_strings,
)

__all__ = [
    "TctColBertQueryEncoder",
    "TctColBertDocumentEncoder",
    "SentenceTransformerEncoder",
    "EncodeStats",
    "load_document_encoder",
    "load_query_encoder",
    "POOLINGS",
    "query_encoder_pooling",
    "st_pool",
    "st_embed",
    "tct_query_pool",
    "st_max_length",
    "POOLS",
]

POOLINGS = ("tct", "st")
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


def st_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sentence-transformers pooling: masked mean over every token, L2-normalised."""
    return torch.nn.functional.normalize(mean_pool(hidden, mask, skip=0), p=2, dim=-1)


def tct_query_pool(hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """TCT-ColBERT query pooling: queries are exactly 36 tokens, a plain mean over positions 4.. (no mask)."""
    return mean_pool(hidden, None)


#: the poolings by name: the engine's runners (PyTorch model, ONNX graph) take a name, so that an exported graph
#: computes the same function (``python -m tctcb.export`` traces these into the graphs)
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


class TctColBertQueryEncoder:
    """TCT-ColBERT queries, as ``pyserini.encode.TctColBertQueryEncoder`` (plus a batch path)."""

    plans_batches = True  # encode_batch sorts by length and batches by budget itself

    pooling = "tct"

    def __init__(self, encoder_dir=None, device="cpu", dtype: str | None = "fp32", batch_size: int = 256,
                 backend: str | None = None, **kwargs):
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


def st_max_length(encoder_dir) -> int:
    """The sentence-transformers input limit of a model folder: ``max_seq_length`` of its
    ``sentence_bert_config.json``, else 512."""
    cfg = Path(encoder_dir) / "sentence_bert_config.json" if encoder_dir is not None else None
    if cfg is not None and cfg.is_file():
        try:
            return int(json.loads(cfg.read_text()).get("max_seq_length") or 512)
        except (ValueError, json.JSONDecodeError):
            pass
    return 512


def st_embed(model, tokenizer, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Sentence-transformers embeddings of ``texts`` in one torch call (``[CLS] text [SEP]``, :func:`st_pool`), on
    the model's device, in the autograd graph when gradients are on: what the trainer uses (the anchor, dense
    mining).  :class:`SentenceTransformerEncoder` encodes the same way for inference, in token-budget batches."""
    enc = tokenizer(list(texts), max_length=max_length, truncation=True, padding="longest", add_special_tokens=True,
                    return_tensors="pt").to(model.device)
    hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    return st_pool(hidden, enc["attention_mask"])


class SentenceTransformerEncoder:
    """sentence-transformers format (``[CLS] text [SEP]``, masked mean over all tokens, L2-normalised,
    ``max_seq_length`` from ``sentence_bert_config.json``) for both queries and documents.  Any BERT or
    MPNet folder (e.g. ``all-mpnet-base-v2``, resolved by name: :func:`tctcb.models._backbone.resolve_backbone`).

    ``encode(str)`` -> ``[d]`` (a query), ``encode(list, titles=None)`` -> ``[n, d]`` (documents;
    with titles the text is ``title + " " + text``, stripped, as MTEB/BEIR do)."""

    plans_batches = True  # encode_batch sorts by length and batches by budget itself

    pooling = "st"

    def __init__(self, encoder_dir=None, device="cpu", dtype: str | None = "fp32", batch_tokens: int | None = None,
                 max_length: int | None = None, backend: str | None = None, **kwargs):
        from tctcb.models import resolve_backbone

        encoder_dir = resolve_backbone(encoder_dir)
        self._engine = _Engine(encoder_dir, device, dtype, batch_tokens, families=ENCODER_FAMILY, backend=backend,
                               pools=("st",))
        self.tokenizer = self._engine.tokenizer
        self.model = self._engine.model
        self.device = self._engine.device
        self.dimension = self._engine.dimension
        self.backend, self.dtype = self._engine.backend, self._engine.dtype  # what encoded (recorded in meta.json)
        self.max_length = int(max_length or self._engine.max_length or st_max_length(encoder_dir))
        self.stats = EncodeStats()

    def tokenize(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> tuple[list[list[int]], EncodeStats]:
        if titles is not None:
            texts = [f"{t} {x}".strip() for t, x in zip(titles, texts)]
        ids = self.tokenizer(list(texts), max_length=self.max_length + 1, truncation=True,
                             add_special_tokens=True)["input_ids"]
        st = EncodeStats(count=len(ids))
        for i, x in enumerate(ids):
            if len(x) > self.max_length:
                ids[i] = x[:self.max_length - 1] + [x[-1]]  # keep [SEP], as truncation to max_length does
                st.truncated += 1
            if len(x) <= 2:
                st.empty += 1
        return ids, st

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        return self._engine.run(ids, "st")

    def encode_batch(self, queries: Sequence[str], **kwargs) -> np.ndarray:
        ids, _ = self.tokenize(list(queries))
        return self.encode_ids(ids)

    def encode(self, texts, titles: Sequence[str] | None = None, **kwargs) -> np.ndarray:
        if isinstance(texts, str):
            return self.encode_batch([texts])[0]
        ids, st = self.tokenize(list(texts), None if titles is None else list(titles))
        self.stats.add(st)
        return self.encode_ids(ids)


def query_encoder_pooling(encoder_dir: Path, index_dir: Path | None, requested: str | None) -> str:
    """``tct`` or ``st``: as requested, else as the index's meta.json records, else by the encoder's files
    (a sentence-transformers folder has ``modules.json``).  An ONNX export computes one pooling, the one its
    ``tctcb-onnx.json`` records: another one requested, or recorded by the index, is an error."""
    from ._onnx import OnnxError, is_onnx_export, read_onnx_config

    if is_onnx_export(encoder_dir):
        pooling = read_onnx_config(encoder_dir)["pooling"]
        if requested and requested != pooling:
            raise OnnxError(f"--pooling {requested}: the ONNX export {encoder_dir} computes pooling {pooling!r} "
                            "(export the model again with the pooling you want)")
        meta = Path(index_dir) / "meta.json" if index_dir is not None else None
        try:
            recorded = json.loads(meta.read_text()).get("pooling") if meta is not None and meta.is_file() else None
        except ValueError:
            recorded = None
        if recorded and recorded != pooling:
            raise OnnxError(f"the ONNX export {encoder_dir} computes pooling {pooling!r} but {meta} records "
                            f"{recorded!r}: queries must be encoded as the documents were")
        return pooling
    if requested:
        return requested
    if index_dir is not None:
        meta = Path(index_dir) / "meta.json"
        if meta.is_file():
            try:
                pooling = json.loads(meta.read_text()).get("pooling")
            except ValueError:
                pooling = None
            if pooling:
                return str(pooling)
    return "st" if (Path(encoder_dir) / "modules.json").is_file() else "tct"


def load_document_encoder(encoder_dir, pooling: str = "tct", **kwargs):
    """The document encoder for ``pooling`` (``"tct"`` or ``"st"``); ``backend=`` (in ``kwargs``): ``"torch"``,
    ``"onnx"`` or None (ONNX for an export folder of ``python -m tctcb.export``, else PyTorch)."""
    if pooling == "tct":
        return TctColBertDocumentEncoder(encoder_dir, **kwargs)
    if pooling == "st":
        return SentenceTransformerEncoder(encoder_dir, **kwargs)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def load_query_encoder(encoder_dir, pooling: str = "tct", **kwargs):
    """The query encoder for ``pooling``; an index's ``meta.json`` records which one it was built with.  ``backend=``
    as for :func:`load_document_encoder` (an ONNX export folder is encoded through its graph)."""
    if pooling == "tct":
        return TctColBertQueryEncoder(encoder_dir, **kwargs)
    if pooling == "st":
        return SentenceTransformerEncoder(encoder_dir, **kwargs)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
