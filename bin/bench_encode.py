#!/usr/bin/env python
"""Encoding speed of tctcb vs Pyserini's TCT-ColBERT encoders, same model, same texts, same run.

CPU (default): all-MiniLM-L6-v2 in TCT format on NFCorpus --
  documents: ``pyserini.encode.TctColBertDocumentEncoder`` (corpus order, batches of 64 as its encode
  CLI, under ``torch.no_grad``) vs ``tctcb.encode.TctColBertDocumentEncoder`` (length-sorted token-budget
  batches, inference mode);
  queries: Pyserini's ``TctColBertQueryEncoder.encode`` one query at a time (it has no batch path) vs
  ``tctcb``'s ``encode_batch`` over a topic set (nfcorpus-test).
  Outputs are checked equal (max abs diff < 1e-4) in the same run; ratios printed.
  With ``--onnx``: the approximate paths too (issues 21, 23) -- the model exported to ONNX fp32 and int8
  (``python -m tctcb.export --format onnx [--quantize int8]``, in a temporary folder) and timed on the same
  documents, in the same run, against the exact PyTorch fp32 path of the same pooling (default: the model's
  own, ``st`` for all-MiniLM-L6-v2); then each path encodes the whole collection and the topics, and prints its
  nDCG@10 on ``--topics`` (exact inner-product search) and the change against PyTorch fp32
  (``--ndcg-docs N`` limits the collection to its first N documents: a quick check of the script, not a result).

GPU (``--gpu``): BERT-base-shaped random weights (12 layers, 768 hidden; weights don't change speed)
with the BERT uncased vocabulary, MS MARCO passages (the dl19-pool texts, repeated with distinct ids) --
  Pyserini's way: ``TctColBertDocumentEncoder.encode(batch of 64, fp16=True)`` (autocast) in corpus order;
  ours: the full ``encode_corpus`` pipeline (JSONL reading, tokenization in a background thread, bf16,
  sorted token-budget batches, chunk files written) on ``--passages`` passages.
  Outputs compared on a sample (fp32 vs fp32: max abs diff; bf16 vs fp16: cosine).

Usage::

    python bin/bench_encode.py [--docs 256] [--queries 323]
    python bin/bench_encode.py --onnx [--docs 256] [--repeats 3] [--pooling st|tct]
    python bin/bench_encode.py --gpu [--passages 200000] [--pyserini-passages 20000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(gpu: bool) -> None:
    # single-threaded tokenizers on the shared CPU (timings swing otherwise); parallel on the GPU box
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if gpu else "false"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = REPO.parent / "shared" / "data"
    if "TCTCB_DATA" not in os.environ and data.is_dir():
        os.environ["TCTCB_DATA"] = str(data)


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _pyserini():
    import tctcb.java

    tctcb.java.start()  # pyserini.encode touches Anserini classes at import
    import pyserini.encode as pe

    return pe


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench_cpu(args) -> int:
    import numpy as np
    import torch

    from tctcb.data import get_collection, get_topics
    from tctcb.encode import TctColBertDocumentEncoder, TctColBertQueryEncoder
    from tctcb.models import default_backbone_dir

    pe = _pyserini()
    model = str(args.encoder or default_backbone_dir())
    docs = []
    for d in get_collection(args.collection).docs():
        docs.append(d)
        if len(docs) == args.docs:
            break
    texts, titles = [d.text for d in docs], [d.title for d in docs]
    queries = list(get_topics(args.topics).values())[: args.queries]
    print(f"device: {_cpu_name()}, {os.cpu_count()} cores (shared with other users), torch threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}")
    print(f"model: {model}")
    print(f"texts: {len(texts)} {args.collection} documents (title + text), {len(queries)} {args.topics} queries")

    pd, pq = pe.TctColBertDocumentEncoder(model, device="cpu"), pe.TctColBertQueryEncoder(model, device="cpu")
    od, oq = TctColBertDocumentEncoder(model), TctColBertQueryEncoder(model)
    # warm-up (first calls allocate)
    with torch.no_grad():
        pd.encode(texts[:4], titles=titles[:4])
    od.encode(texts[:4], titles=titles[:4])
    pq.encode(queries[0]), oq.encode_batch(queries[:2])

    def pys_docs():
        with torch.no_grad():
            return np.concatenate([pd.encode(texts[i:i + 64], titles=titles[i:i + 64]) for i in range(0, len(texts), 64)])

    best = {}
    for _ in range(args.repeats):  # alternate the two, keep each one's best time (the CPU is shared)
        for name, fn in (("pys_d", pys_docs), ("our_d", lambda: od.encode(texts, titles=titles)),
                         ("pys_q", lambda: np.stack([pq.encode(q) for q in queries])),
                         ("our_q", lambda: oq.encode_batch(queries))):
            out, secs = _timed(fn)
            if name not in best or secs < best[name][1]:
                best[name] = (out, secs)
    d_diff = float(np.abs(best["pys_d"][0] - best["our_d"][0]).max())
    q_diff = float(np.abs(best["pys_q"][0] - best["our_q"][0]).max())
    ok = d_diff < 1e-4 and q_diff < 1e-4
    nd, nq = len(texts), len(queries)
    pd_rate, od_rate = nd / best["pys_d"][1], nd / best["our_d"][1]
    pq_rate, oq_rate = nq / best["pys_q"][1], nq / best["our_q"][1]
    print(f"documents: pyserini {pd_rate:8.1f} passages/s | tctcb {od_rate:8.1f} passages/s | ratio {od_rate / pd_rate:5.2f}x "
          f"(goal >= 2.5x) | max abs diff {d_diff:.2e}")
    print(f"queries:   pyserini {pq_rate:8.1f} queries/s  | tctcb {oq_rate:8.1f} queries/s  | ratio {oq_rate / pq_rate:5.2f}x "
          f"(goal >= 5x) | max abs diff {q_diff:.2e}")
    print(f"outputs equal (< 1e-4): {'OK' if ok else 'FAIL'}; truncated docs {od.stats.truncated}, empty {od.stats.empty}")
    if args.onnx:
        ok = bench_onnx(args, model, texts, titles) and ok
    return 0 if ok else 1


def _ndcg10(doc_enc, query_enc, docs, topics, qrels) -> float:
    """nDCG@10 of exact inner-product search over ``docs`` (title + text) with these encoders."""
    import numpy as np

    from tctcb.eval import evaluate

    emb = doc_enc.encode([d.text for d in docs], titles=[d.title for d in docs])
    qids = list(topics)
    q = query_enc.encode_batch([topics[i] for i in qids])
    scores = q @ emb.T
    k = min(100, len(docs))
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    run = {qid: {docs[j].docid: float(scores[r, j]) for j in top[r]} for r, qid in enumerate(qids)}
    return evaluate(run, qrels, ["nDCG@10"])["nDCG@10"]


def bench_onnx(args, model: str, texts, titles) -> bool:
    """PyTorch fp32 vs ONNX fp32 vs ONNX int8 (same pooling): speed on ``texts``, agreement, nDCG@10 change."""
    import numpy as np
    import onnxruntime
    import torch

    from tctcb.data import get_collection, get_qrels, get_topics
    from tctcb.encode import load_document_encoder, load_query_encoder, query_encoder_pooling
    from tctcb.export import export_onnx

    pooling = args.pooling or query_encoder_pooling(model, None, None)
    tmp = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    paths = {"torch fp32": (model, "torch")}
    for quant in (None, "int8"):
        out = tmp / (quant or "fp32")
        t = time.perf_counter()
        export_onnx(model, out, pooling=pooling, quantize=quant, progress=False)
        print(f"export onnx {quant or 'fp32'}: {time.perf_counter() - t:.1f}s -> {out}")
        paths[f"onnx {quant or 'fp32'}"] = (str(out), "onnx")
    print(f"ONNX paths ({pooling} pooling): onnxruntime {onnxruntime.__version__} (default threads: one per physical "
          f"core), torch threads {torch.get_num_threads()}")
    encs = {name: load_document_encoder(path, pooling, backend=backend) for name, (path, backend) in paths.items()}
    for enc in encs.values():  # warm-up
        enc.encode(texts[:4], titles=titles[:4])
    best: dict[str, tuple] = {}
    for _ in range(args.repeats):  # alternate, keep each path's best time (the CPU may be shared)
        for name, enc in encs.items():
            out, secs = _timed(lambda: enc.encode(texts, titles=titles))
            if name not in best or secs < best[name][1]:
                best[name] = (out, secs)
    ref, base = best["torch fp32"]
    docs = list(get_collection(args.collection).docs())
    sample = args.ndcg_docs is not None and args.ndcg_docs < len(docs)
    docs = docs[: args.ndcg_docs] if sample else docs
    topics, qrels = get_topics(args.topics), get_qrels(args.topics)
    if sample:  # keep the judgements of the sampled documents only
        keep = {d.docid for d in docs}
        qrels = {q: {d: r for d, r in j.items() if d in keep} for q, j in qrels.items()}
        qrels = {q: j for q, j in qrels.items() if j}
        topics = {q: t for q, t in topics.items() if q in qrels}
    ndcg = {}
    for name, (path, backend) in paths.items():
        ndcg[name] = _ndcg10(encs[name], load_query_encoder(path, pooling, backend=backend), docs, topics, qrels)
    what = f"first {len(docs)} documents (a script check, not a result)" if sample else f"all {len(docs)} documents"
    print(f"speed on {len(texts)} {args.collection} documents (best of {args.repeats}); nDCG@10 on {args.topics} "
          f"({len(topics)} queries, {what}, exact search)")
    print(f"{'path':<11} {'passages/s':>10} {'vs torch':>8} {'max abs diff':>12} {'min cosine':>10} {'nDCG@10':>8} {'change':>8}")
    ok = True
    for name, (out, secs) in best.items():
        diff = float(np.abs(out - ref).max())
        norms = np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1)
        live = norms > 0
        cos = float(((out * ref).sum(1)[live] / norms[live]).min())
        print(f"{name:<11} {len(texts) / secs:10.1f} {base / secs:7.2f}x {diff:12.2e} {cos:10.5f} {ndcg[name]:8.4f} "
              f"{ndcg[name] - ndcg['torch fp32']:+8.4f}")
        ok = ok and (diff < 1e-4 if name.endswith("fp32") else cos > 0.9)
    print(f"onnx fp32 equal to torch fp32 (< 1e-4) and int8 close (cosine > 0.9): {'OK' if ok else 'FAIL'}")
    return ok


def _random_bert_base(tmp: Path, tiny: bool = False) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    from tctcb.models import load_backbone

    torch.manual_seed(0)
    _, tok = load_backbone()  # BERT uncased WordPiece vocabulary (30,522), as bert-base-uncased
    shape = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64) if tiny else \
        dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    cfg = BertConfig(vocab_size=tok.vocab_size, **shape)
    out = tmp / "bert-base-random"
    BertModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def bench_gpu(args) -> int:
    import numpy as np
    import torch

    from tctcb.data import get_collection
    from tctcb.encode import TctColBertDocumentEncoder, encode_corpus

    dry = args.dry_run  # the same code path on the CPU with tiny sizes, to check the script itself
    if not dry and not torch.cuda.is_available():
        print("error: --gpu needs CUDA (use --dry-run to check the script on the CPU)", file=sys.stderr)
        return 2
    dev, fp16, our_dtype = ("cpu", False, "fp32") if dry else ("cuda", True, "bf16")
    sync = (lambda: None) if dry else torch.cuda.synchronize
    pe = _pyserini()
    tmp = Path(tempfile.mkdtemp(prefix="bench-encode-"))
    model = str(args.encoder) if args.encoder else str(_random_bert_base(tmp, tiny=dry))
    pool = [d.contents for d in get_collection("dl19-pool").docs()]
    corpus = tmp / "corpus.jsonl"
    with open(corpus, "w") as f:
        for i in range(args.passages):
            f.write(json.dumps({"id": str(i), "contents": pool[i % len(pool)]}) + "\n")
    texts = [pool[i % len(pool)] for i in range(args.pyserini_passages)]
    print(f"device: {'CPU dry run' if dry else torch.cuda.get_device_name(0)}, torch {torch.__version__}, CPU cores {os.cpu_count()}")
    print(f"model: {'BERT-base-shaped random weights' if not args.encoder else model}; "
          f"MS MARCO passages (dl19-pool, {len(pool)} distinct texts, repeated)")

    # Pyserini's way: fp16 autocast, batches of 64 in corpus order
    pd = pe.TctColBertDocumentEncoder(model, device="cpu" if dry else "cuda:0")
    pd.encode(texts[:64], fp16=fp16)
    sync()
    t = time.perf_counter()
    for i in range(0, len(texts), 64):
        pd.encode(texts[i:i + 64], fp16=fp16)
    sync()
    p_rate = len(texts) / (time.perf_counter() - t)
    print(f"pyserini ({'fp32' if dry else 'fp16 autocast'}, batch 64): {p_rate:10.1f} passages/s over {len(texts)} passages")

    # agreement on a sample: fp32 vs fp32, and our bf16 vs Pyserini fp16
    sample = texts[:64 if dry else 512]
    ref32 = np.concatenate([pd.encode(sample[i:i + 64]) for i in range(0, len(sample), 64)])
    ref16 = np.concatenate([pd.encode(sample[i:i + 64], fp16=fp16) for i in range(0, len(sample), 64)])
    del pd
    ours32 = TctColBertDocumentEncoder(model, device=dev, dtype="fp32").encode(sample)
    ours16 = TctColBertDocumentEncoder(model, device=dev, dtype=our_dtype).encode(sample)
    if not dry:
        torch.cuda.empty_cache()
    diff32 = float(np.abs(ref32 - ours32).max())
    cos = np.sum(ref16 * ours16, 1) / (np.linalg.norm(ref16, axis=1) * np.linalg.norm(ours16, axis=1))
    print(f"agreement: fp32 max abs diff {diff32:.2e} (scale {np.abs(ref32).max():.2f}); "
          f"{our_dtype} (ours) vs {'fp16' if fp16 else 'fp32'} (pyserini) cosine min {cos.min():.5f} mean {cos.mean():.5f}")

    # ours: the whole pipeline (warm-up run first, then the timed one)
    common = dict(corpus=corpus, device=dev, dtype=our_dtype, batch_tokens=args.batch_tokens,
                  chunk_size=args.chunk_size, progress=False)
    warm = tmp / "warm.jsonl"
    with open(corpus) as src, open(warm, "w") as dst:
        for _, line in zip(range(min(20000, args.passages // 10)), src):
            dst.write(line)
    encode_corpus(tmp / "emb-warm", model, **dict(common, corpus=warm))
    meta = encode_corpus(tmp / "emb", model, **common)
    o_rate = meta["encoded"] / meta["seconds"]
    print(f"tctcb encode_corpus ({our_dtype}, sorted, {args.batch_tokens or 'default'} tokens/batch): {o_rate:10.1f} passages/s "
          f"over {meta['encoded']} passages ({meta['seconds']:.1f}s, reading + tokenizing + writing included)")
    print(f"ratio {o_rate / p_rate:.2f}x (goal >= 10x and >= 15,000 passages/s; "
          f"8.8M MS MARCO passages would take {8.8e6 / o_rate / 60:.1f} min)")
    ok = diff32 < 1e-3 and cos.min() > 0.99
    print(f"outputs agree: {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpu", action="store_true", help="GPU mode (BERT-base-shaped random weights, MS MARCO lengths)")
    p.add_argument("--encoder", default=None, help="model directory (CPU default: all-MiniLM-L6-v2)")
    p.add_argument("--collection", default="nfcorpus")
    p.add_argument("--topics", default="nfcorpus-test")
    p.add_argument("--docs", type=int, default=256, help="CPU: documents to encode")
    p.add_argument("--queries", type=int, default=10_000, help="CPU: at most this many queries of --topics")
    p.add_argument("--repeats", type=int, default=1, help="CPU: alternate runs, best time each")
    p.add_argument("--onnx", action="store_true", help="CPU: also the ONNX fp32 and int8 paths (speed, nDCG@10 change)")
    p.add_argument("--pooling", choices=("tct", "st"), default=None,
                   help="--onnx: pooling of the compared paths (default: the model's own; st for all-MiniLM-L6-v2)")
    p.add_argument("--ndcg-docs", type=int, default=None, help="--onnx: nDCG@10 over the first N documents only "
                   "(checks the script quickly; not a result)")
    p.add_argument("--passages", type=int, default=200_000, help="GPU: passages for tctcb")
    p.add_argument("--pyserini-passages", type=int, default=20_000, help="GPU: passages for Pyserini's way")
    p.add_argument("--batch-tokens", type=int, default=None, help="GPU: token budget per batch")
    p.add_argument("--chunk-size", type=int, default=32768, help="GPU: documents per chunk")
    p.add_argument("--dry-run", action="store_true", help="GPU mode's code on the CPU with a tiny model (checks the script)")
    args = p.parse_args(argv)
    _env(args.gpu)
    return bench_gpu(args) if args.gpu else bench_cpu(args)


if __name__ == "__main__":
    sys.exit(main())
