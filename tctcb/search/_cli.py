"""``python -m tctcb.search``: dense, BM25/impact, hybrid and MaxSim-reranked runs for a topic set.

    python -m tctcb.search --topics nfcorpus-test --index DIR --encoder DIR --output run.txt
    python -m tctcb.search --topics nfcorpus-test --sparse-index nfcorpus --output bm25.txt
    python -m tctcb.search --topics nfcorpus-test --index DIR --encoder DIR --sparse-index nfcorpus \\
        --tune-alpha-on nfcorpus-dev --output hybrid.txt

Bad input (unknown topics, repeated topic ids, a missing or wrong-type index, ``--hits`` below
``--k0``, a name that cannot be fetched offline) ends with exit status 2 and one ``error:`` line.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from tctcb._command import ArgumentParser, UserError, command, number

__all__ = ["main", "build_parser", "load_topics"]


class UsageError(UserError, ValueError):
    """Bad command-line input (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.search",
                                description="Dense, sparse (BM25 / impact), hybrid and MaxSim-reranked search.")
    p.add_argument("--topics", required=True, help="topic set name (nfcorpus-test, msmarco-dev, ...) or topics file")
    p.add_argument("--output", required=True, help="run file to write (atomically)")
    p.add_argument("--output-format", choices=("trec", "msmarco"), default="trec")
    p.add_argument("--run-tag", default="tctcb", help="TREC run tag (one word)")
    p.add_argument("--hits", type=number(int, lo=1), default=1000, help="hits per query in the run")
    p.add_argument("--batch-size", type=number(int, lo=1), default=64, help="queries encoded and searched per batch")
    p.add_argument("--threads", type=number(int, lo=1), default=1, help="search threads (faiss / Lucene)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (encoders, exact torch search)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary line")
    d = p.add_argument_group("dense")
    d.add_argument("--index", help="FAISS index folder (index, docid, meta.json) or Pyserini prebuilt name")
    d.add_argument("--encoder", help="query encoder folder or Hugging Face id (default: the index's meta.json)")
    d.add_argument("--pooling", choices=("tct", "mean", "st"), help="query encoder format, st = mean (default: the one "
                   "the encoder records in tctcb_student.json, else the index's meta.json, else mean for a "
                   "sentence-transformers folder, else tct; printed as 'format: ...')")
    d.add_argument("--ef-search", type=number(int, lo=1), help="HNSW search depth")
    s = p.add_argument_group("sparse / hybrid")
    s.add_argument("--sparse-index", help="Lucene index folder, registered collection name (BM25 index built in "
                   "the cache) or Pyserini prebuilt Lucene index name (BM25, or impact: msmarco-v1-passage.splade-pp-ed, "
                   "msmarco-v1-passage.unicoil, ...)")
    s.add_argument("--sparse-encoder", help="query encoder folder or Hugging Face id for an impact index (default: "
                   "its impact.json, or the model Pyserini searches a prebuilt impact index with)")
    s.add_argument("--bm25-k1", type=number(float, lo=0), default=0.9)
    s.add_argument("--bm25-b", type=number(float, lo=0, hi=1), default=0.4)
    s.add_argument("--fusion", choices=("weighted", "rrf"), default="weighted")
    s.add_argument("--alpha", type=number(float, lo=0), default=0.1, help="weight on the sparse score (on the dense with "
                   "--weight-on-dense)")
    s.add_argument("--normalization", action="store_true")
    s.add_argument("--weight-on-dense", action="store_true")
    s.add_argument("--k0", type=number(int, lo=1), help="hits taken from each side before fusion (default: --hits)")
    s.add_argument("--rrf-k", type=number(int, lo=0), default=60)
    s.add_argument("--tune-alpha-on", metavar="TOPICS", help="choose --alpha on this (dev) topic set: a name "
                   "(its qrels come with it) or a topics file (give --tune-qrels)")
    s.add_argument("--tune-qrels", metavar="QRELS", help="qrels for --tune-alpha-on: a file (TREC or BEIR) or a "
                   "topic set name (default: the qrels of the --tune-alpha-on name)")
    s.add_argument("--alpha-grid", help="comma-separated alphas to try (default: a built-in grid)")
    s.add_argument("--tune-metric", default="nDCG@10")
    r = p.add_argument_group("rerank")
    r.add_argument("--rerank-with", metavar="TEACHER_DIR", help="ColBERT checkpoint to rerank with (MaxSim)")
    r.add_argument("--rerank-depth", type=number(int, lo=1), default=100)
    r.add_argument("--collection", help="registered collection holding the passage texts for reranking "
                   "(default: the one the topic set searches)")
    return p


# --- topics ---------------------------------------------------------------------------------------
def load_topics(value: str) -> dict[str, str]:
    """Topics by name or file (``tctcb.data.load_topics``: one rule everywhere)."""
    from tctcb.data import load_topics as load

    return load(value)


# --- searchers ----------------------------------------------------------------------------------
def _dense_searcher(args):
    """(DenseSearcher, the query format as :func:`tctcb.encode.choose_format` decided it)."""
    import json

    from tctcb.encode import load_query_encoder
    from tctcb.search._dense import DenseSearcher
    from tctcb.encode import choose_format
    from tctcb.search._hits import SearchError
    from tctcb.search._resolve import prebuilt_hint, resolve_dense_index, resolve_encoder_dir

    index_dir = resolve_dense_index(args.index)
    meta_path = index_dir / "meta.json"
    try:
        recorded = json.loads(meta_path.read_text(encoding="utf-8")).get("encoder") if meta_path.is_file() else None
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{meta_path}: not readable JSON ({e})") from None
    encoder = args.encoder or recorded
    if not encoder:
        raise UsageError(f"--index {args.index}: give --encoder (the index's meta.json names none)")
    encoder_dir = resolve_encoder_dir(str(encoder))
    if args.encoder and recorded and Path(str(recorded)).resolve() != Path(encoder_dir).resolve():
        print(f"warning: --encoder {args.encoder} is not the encoder recorded in {meta_path} ({recorded}); queries "
              "encoded by another model than the documents rank poorly unless the two share weights", file=sys.stderr)
    choice = choose_format(encoder_dir, index_dir, args.pooling)  # the checkpoint's record first
    qenc = load_query_encoder(encoder_dir, choice.pooling, device=args.device)
    try:
        return DenseSearcher(index_dir, qenc, device=args.device, ef_search=args.ef_search,
                             batch_size=args.batch_size), choice
    except SearchError as e:  # a damaged index: when it is Pyserini's cached copy, say which folder to delete
        raise SearchError(f"{e}{prebuilt_hint(args.index, index_dir)}") from None


def _sparse_searcher(args):
    from tctcb import java
    from tctcb.search._resolve import impact_query_encoder, resolve_encoder_dir, resolve_sparse_index

    index_dir, kind = resolve_sparse_index(args.sparse_index, encoder_given=bool(args.sparse_encoder))
    java.start()
    if kind == "impact" or args.sparse_encoder:
        from tctcb.encode import SpladeEncoder, UniCoilQueryEncoder  # Pyserini's encoders' numbers
        from tctcb.search._impact import ImpactSearcher  # Pyserini's LuceneImpactSearcher, queries batch-encoded

        enc_kind, enc = impact_query_encoder(args.sparse_index, index_dir, args.sparse_encoder)
        enc_dir = resolve_encoder_dir(enc, "--sparse-encoder", f"query encoder for {args.sparse_index}")
        qenc = (UniCoilQueryEncoder if enc_kind == "unicoil" else SpladeEncoder)(enc_dir, device=args.device)
        return ImpactSearcher(index_dir, qenc)
    from tctcb.search._bm25 import Bm25Searcher
    from tctcb.search._hits import SearchError
    from tctcb.search._resolve import prebuilt_hint

    try:
        return Bm25Searcher(index_dir, k1=args.bm25_k1, b=args.bm25_b)  # = Pyserini's LuceneSearcher, faster
    except SearchError as e:  # a damaged index: when it is Pyserini's cached copy, say which folder to delete
        raise SearchError(f"{e}{prebuilt_hint(args.sparse_index, index_dir)}") from None


def _alpha_grid(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        grid = [float(x) for x in text.split(",")]
    except ValueError:
        raise UsageError(f"--alpha-grid: comma-separated numbers expected, got {text!r}") from None
    if not all(math.isfinite(a) and a >= 0 for a in grid):
        raise UsageError(f"--alpha-grid: alphas must be finite and >= 0, got {text!r}")
    return grid


def _check_args(args) -> None:
    if args.output_format == "trec" and (not args.run_tag or any(c.isspace() for c in args.run_tag)):
        raise UsageError(f"--run-tag must be one word, got {args.run_tag!r}")
    _alpha_grid(args.alpha_grid)
    if not args.index and not args.sparse_index:
        raise UsageError("give --index (dense), --sparse-index (BM25/impact), or both (hybrid)")
    if args.encoder and not args.index:
        raise UsageError("--encoder needs --index")
    _check_applies(args)
    if args.k0 is not None and args.hits < args.k0:
        raise UsageError(f"--hits {args.hits} is below --k0 {args.k0}: the run would drop fused hits; "
                         "raise --hits or lower --k0")
    if args.k0 is not None and not (args.index and args.sparse_index):
        raise UsageError("--k0 applies to hybrid search (--index and --sparse-index)")
    if args.tune_alpha_on and not (args.index and args.sparse_index and args.fusion == "weighted"):
        raise UsageError("--tune-alpha-on needs a weighted hybrid (--index, --sparse-index, --fusion weighted)")
    if args.tune_qrels and not args.tune_alpha_on:
        raise UsageError("--tune-qrels goes with --tune-alpha-on")
    if args.tune_alpha_on and Path(args.tune_alpha_on).is_file() and not args.tune_qrels:
        raise UsageError(f"--tune-alpha-on {args.tune_alpha_on} is a topics file: give its qrels with --tune-qrels FILE")


# options that do something only in some searches: (options, whether they apply, what they need)
_APPLIES = (
    (("fusion", "alpha", "normalization", "weight_on_dense", "rrf_k"), lambda a: a.index and a.sparse_index,
     "a hybrid search (--index and --sparse-index)"),
    (("alpha", "normalization", "weight_on_dense"), lambda a: a.fusion == "weighted", "--fusion weighted"),
    (("rrf_k",), lambda a: a.fusion == "rrf", "--fusion rrf"),
    (("bm25_k1", "bm25_b", "sparse_encoder"), lambda a: a.sparse_index, "--sparse-index"),
    (("pooling", "ef_search"), lambda a: a.index, "--index (dense)"),
    (("rerank_depth", "collection"), lambda a: a.rerank_with, "--rerank-with"),
    (("alpha_grid", "tune_metric"), lambda a: a.tune_alpha_on, "--tune-alpha-on"),
    (("alpha",), lambda a: not a.tune_alpha_on, "a search without --tune-alpha-on (which chooses it)"),
)


def _check_applies(args) -> None:
    """An option given where it does nothing is refused: the user meant something the search would not do."""
    defaults = build_parser()
    for names, applies, needs in _APPLIES:
        if applies(args):
            continue
        for name in names:
            if getattr(args, name) != defaults.get_default(name):
                raise UsageError(f"--{name.replace('_', '-')} applies only to {needs}")


def _progress(total, quiet, desc):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="q", disable=quiet or not sys.stderr.isatty(), leave=False)


def _rerank_docs(args):
    """``docid -> text`` of the collection the teacher reads (a docstore: not the corpus in memory)."""
    from tctcb.data import get_collection, topics_collection

    name = args.collection
    if name is None:
        try:
            name = topics_collection(args.topics)
        except Exception:
            name = None
    if name is None:
        raise UsageError("--rerank-with: give --collection NAME (the passages the teacher reads)")
    return get_collection(name).docstore()


def run_search(args) -> tuple[dict, dict]:
    """Search all topics; returns (results {qid: hits}, info)."""
    from tctcb.search._hits import as_searcher
    from tctcb.search._hybrid import HybridSearcher

    topics = load_topics(args.topics)
    info: dict = {"queries": len(topics)}
    dense = None
    if args.index:
        dense, choice = _dense_searcher(args)
        info["format"] = choice.line()
    sparse = _sparse_searcher(args) if args.sparse_index else None
    k0 = args.k0 if args.k0 is not None else args.hits
    alpha = args.alpha
    if dense is not None and sparse is not None:
        searcher = HybridSearcher(dense, sparse, fusion=args.fusion, rrf_k=args.rrf_k, k0=k0, alpha=alpha,
                                  normalization=args.normalization, weight_on_dense=args.weight_on_dense)
        if args.tune_alpha_on:
            from tctcb.eval import load_qrels
            from tctcb.search._tune import tune_alpha

            grid = _alpha_grid(args.alpha_grid)
            dev = load_topics(args.tune_alpha_on)
            alpha, table = tune_alpha(searcher, dev, load_qrels(args.tune_qrels or args.tune_alpha_on), grid=grid, k0=k0, k=args.hits,
                                      normalization=args.normalization, weight_on_dense=args.weight_on_dense,
                                      metric=args.tune_metric, threads=args.threads)
            best = dict(table)[alpha]
            print(f"tuned alpha: {alpha:g} ({args.tune_metric} {best:.4f} on {args.tune_alpha_on}, "
                  f"{len(table)} values tried)")
            info["alpha_table"] = table
            searcher.alpha, searcher.blank_queries = alpha, 0
    else:
        searcher = as_searcher(dense if dense is not None else sparse)
    info["alpha"] = alpha
    qids = list(topics)
    results: dict = {}
    t0 = time.perf_counter()  # query encoding + search (+ rerank): what a user waits for, models loaded
    with _progress(len(qids), args.quiet, "search") as bar:
        for s in range(0, len(qids), args.batch_size):
            ids = qids[s:s + args.batch_size]
            results.update(searcher.batch_search([topics[q] for q in ids], ids, k=args.hits, threads=args.threads))
            bar.update(len(ids))
    info["blank_queries"] = int(getattr(searcher, "blank_queries", 0))
    if args.rerank_with:
        from tctcb.search._rerank import MaxSimReranker

        reranker = MaxSimReranker(args.rerank_with, _rerank_docs(args), depth=args.rerank_depth,
                                  batch_size=args.batch_size, device=args.device)
        with _progress(len(results), args.quiet, "rerank") as bar:
            results = reranker.rerank_all(topics, results, progress=bar)
    info["search_seconds"] = time.perf_counter() - t0
    return results, info


def write_stats(info: dict, run_path) -> Path:
    """``RUN.stats.json`` beside the run file: queries, search seconds (query encoding + search +
    rerank, after loading), alpha, blank queries. Written atomically; the pipeline's plot reads it."""
    import json

    from tctcb._atomic import write_text

    return write_text(Path(str(run_path) + ".stats.json"),
                      json.dumps({k: info[k] for k in ("queries", "search_seconds", "alpha", "blank_queries")
                                  if k in info}, indent=1) + "\n")


def _run_with_anserini(args):
    """``run_search``, with a failure inside Anserini (a damaged index, a model that is not SPLADE) as one line."""
    from tctcb.search._hits import SearchError

    try:
        return run_search(args)
    except Exception as e:
        if type(e).__name__ != "JavaException":  # jnius's, when Java is loaded at all
            raise
        hint = ""
        if args.sparse_index:
            from tctcb.search._resolve import prebuilt_hint, resolve_sparse_index

            try:  # already resolved (and cached) by the search: no download here
                hint = prebuilt_hint(args.sparse_index, resolve_sparse_index(args.sparse_index, build=False,
                                                                             encoder_given=True)[0])
            except SearchError:
                hint = ""
        raise SearchError(f"Anserini failed searching {args.sparse_index}"
                          + (f" with --sparse-encoder {args.sparse_encoder}" if args.sparse_encoder else "")
                          + f": {str(e).splitlines()[0][:200]}{hint}") from None


@command
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.time()
    try:
        _check_args(args)
        results, info = _run_with_anserini(args)
        from tctcb.eval import write_run
        from tctcb.search._tune import to_run

        write_run(to_run(results), args.output, format=args.output_format, tag=args.run_tag)
        write_stats(info, args.output)
    except KeyError as e:  # a hit's docid missing from the passages the reranker reads; other mistakes are UserErrors
        raise UsageError(str(e.args[0]) if e.args else str(e)) from None
    if not args.quiet:
        if "format" in info:
            print(info["format"], file=sys.stderr)
        blank = f", {info['blank_queries']} blank (no hits)" if info["blank_queries"] else ""
        print(f"{info['queries']} queries{blank} -> {args.output} ({args.output_format}, {args.hits} hits) "
              f"in {time.time() - start:.1f}s", file=sys.stderr)
    return 0
