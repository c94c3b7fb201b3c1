#!/usr/bin/env python
"""Does the data path survive MS MARCO's size? A synthetic MS MARCO-shaped dataset in the real file formats,
then each stage as its own process, with its wall time and peak RSS (``wait4``'s ``ru_maxrss`` of that process):

    1. write   collection.tsv (N passages, MS MARCO-like lengths), queries.train.tsv (N/16 queries),
               qrels.train.tsv (MS MARCO's ``qid 0 pid 1``), qidpidtriples.train.tsv (--triples-per-query each),
               queries.dev.tsv + qrels.dev.tsv (1,000 queries)            [not timed as a tctcb stage]
    2. register  python -m tctcb.data add NAME --corpus ... --topics ... --qrels ...   (docstore: offset index)
    3. bm25      python -m tctcb.index lucene --collection NAME              (JSONL conversion + Anserini)
    4. train     python -m tctcb.train distill --triples ... 20 steps, tiny random BERT student and teacher
    5. encode    python -m tctcb.encode of the first 100k passages (tiny BERT)
    6. faiss     python -m tctcb.index faiss (flat) over those embeddings
    7. search    python -m tctcb.search 1,000 queries: dense (tiny BERT) and BM25 over all N passages

    python bin/bench_scale.py                     # N = 1,000,000 (about 2 GB of disk under --workdir)
    python bin/bench_scale.py --n 250000 --n 500000 --n 1000000 --json bin/results/scale-cpu.json
    python bin/bench_scale.py --msmarco           # N = 8,841,823 (about 15 GB of disk)

Goals at N = 1M on a 2-core CPU: registration + the first training step under 10 minutes; the trainer's
peak RSS under 3 GiB. Nothing here asserts a time; it prints them (and writes --json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


MSMARCO_PASSAGES = 8_841_823


def write_dataset(root: Path, n: int, triples_per_query: int, seed: int = 0) -> dict[str, Path]:
    """MS MARCO-shaped files: passage lengths ~ lognormal (mean ~56 words, 5..200), queries 3..12 words."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(30_000)])
    root.mkdir(parents=True, exist_ok=True)
    p = {"collection": root / "collection.tsv", "queries.train": root / "queries.train.tsv",
         "qrels.train": root / "qrels.train.tsv", "triples": root / "qidpidtriples.train.tsv",
         "queries.dev": root / "queries.dev.tsv", "qrels.dev": root / "qrels.dev.tsv"}
    block = 100_000
    with open(p["collection"], "w") as f:
        for s in range(0, n, block):
            m = min(block, n - s)
            lengths = np.clip(rng.lognormal(3.95, 0.45, m).astype(int), 5, 200)
            words = vocab[rng.zipf(1.3, lengths.sum()) % len(vocab)]
            cuts = np.cumsum(lengths)[:-1]
            f.writelines(f"{s + i}\t{' '.join(ws)}\n" for i, ws in enumerate(np.split(words, cuts)))
    nq = max(n // 16, 1)

    def queries(path, qrels, ids):
        with open(path, "w") as fq, open(qrels, "w") as fr:
            for q in ids:
                words = vocab[rng.integers(0, len(vocab), rng.integers(3, 13))]
                fq.write(f"{q}\t{' '.join(words)}\n")
                fr.write(f"{q}\t0\t{int(rng.integers(0, n))}\t1\n")

    queries(p["queries.train"], p["qrels.train"], range(1_000_000, 1_000_000 + nq))
    queries(p["queries.dev"], p["qrels.dev"], range(3_000_000, 3_001_000))
    positives = {}
    with open(p["qrels.train"]) as f:
        for line in f:
            q, _, d, _ = line.split("\t")
            positives[q] = d
    with open(p["triples"], "w") as f:
        for q, d in positives.items():
            for neg in rng.integers(0, n, triples_per_query):
                f.write(f"{q}\t{d}\t{int(neg)}\n")
    with open(p["collection"]) as src, open(root / "first-100k.tsv", "w") as dst:
        for i, line in zip(range(100_000), src):
            dst.write(line)
    p["first100k"] = root / "first-100k.tsv"
    return p


def run_stage(name: str, cmd: list[str], env: dict, log) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    rss = usage.ru_maxrss / 1024 / 1024  # KiB -> GiB (Linux)
    log.write(f"$ {' '.join(cmd)}\n{out}\n")
    if proc.returncode != 0:
        raise SystemExit(f"error: stage {name} failed (exit {proc.returncode}); its output:\n{out[-3000:]}")
    print(f"  {name:<9} {wall:9.1f} s   peak RSS {rss:6.2f} GiB", flush=True)
    return {"stage": name, "seconds": round(wall, 1), "peak_rss_gib": round(rss, 3)}


def bench(n: int, args, work: Path) -> dict:
    # this process imports neither torch nor tctcb: a forked stage starts small, so its peak RSS is its own
    py = sys.executable
    env = dict(os.environ, TCTCB_CACHE=str(work / "cache"), TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    t0 = time.perf_counter()
    files = write_dataset(work / "data", n, args.triples_per_query)
    print(f"N = {n:,}: wrote the dataset in {time.perf_counter() - t0:.0f} s "
          f"({sum(f.stat().st_size for f in (work / 'data').iterdir()) / 1e9:.2f} GB)", flush=True)
    tiny = work / "tiny"
    subprocess.run([py, "-c", "import sys; sys.path.insert(0, sys.argv[2]); from tiny_models import make_tiny_bert; "
                    "make_tiny_bert(sys.argv[1], hidden=64, layers=2, heads=2, seed=0)", str(tiny),
                    str(Path(__file__).resolve().parents[1] / "tests")],
                   env=env, check=True, capture_output=True)
    stages = []
    log = open(work / "bench_scale.log", "w")
    name = "synth"
    stages.append(run_stage("register", [py, "-m", "tctcb.data", "add", name, "--corpus", str(files["collection"]),
                                         "--topics", f"train={files['queries.train']}",
                                         "--qrels", f"train={files['qrels.train']}",
                                         "--topics", f"dev={files['queries.dev']}",
                                         "--qrels", f"dev={files['qrels.dev']}"], env, log))
    stages.append(run_stage("bm25", [py, "-m", "tctcb.index", "lucene", "--collection", name], env, log))
    teacher = work / "teacher"
    subprocess.run([py, "-c", "import sys; from tctcb.models import ColBERT; from tctcb.models import "
                    "ColBERTConfig; ColBERT.from_backbone(sys.argv[1], ColBERTConfig(dim=32, doc_maxlen=180), seed=0)"
                    ".save_pretrained(sys.argv[2])", str(tiny), str(teacher)], env=env, check=True, capture_output=True)
    out = work / "student"
    stages.append(run_stage("train", [py, "-m", "tctcb.train", "distill", "--collection", name, "--split", "train",
                                      "--dev-split", "none", "--backbone", str(tiny), "--teacher", str(teacher),
                                      "--triples", str(files["triples"]), "--batch-size", "32", "--max-steps", "20",
                                      "--save-every", "20", "--quiet", "--output", str(out)], env, log))
    steps = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    step_s = [r["seconds"] for r in steps if "loss" in r and "seconds" in r]
    first = stages[-1]["seconds"] - sum(step_s[1:])
    stages[-1]["first_step_seconds"] = round(first, 1)
    stages[-1]["median_step_seconds"] = round(float(np.median(step_s)), 3) if step_s else None
    stages.append(run_stage("encode", [py, "-m", "tctcb.encode", "--corpus", str(files["first100k"]),
                                       "--encoder", str(out / "model"), "--output", str(work / "emb"), "--quiet"],
                            env, log))
    stages.append(run_stage("faiss", [py, "-m", "tctcb.index", "faiss", "--input", str(work / "emb"), "--output",
                                      str(work / "index"), "--type", "flat"], env, log))
    stages.append(run_stage("search", [py, "-m", "tctcb.search", "--topics", "synth-dev", "--index",
                                       str(work / "index"), "--output", str(work / "dense.trec"), "--hits", "100",
                                       "--quiet"], env, log))
    stages.append(run_stage("bm25-search", [py, "-m", "tctcb.search", "--topics", "synth-dev", "--sparse-index",
                                            name, "--output", str(work / "bm25.trec"), "--hits", "100",
                                            "--threads", "2", "--quiet"], env, log))
    reg = stages[0]["seconds"]
    result = {"n": n, "queries_train": max(n // 16, 1), "triples": max(n // 16, 1) * args.triples_per_query,
              "stages": stages, "register_plus_first_step_seconds": round(reg + first, 1),
              "trainer_peak_rss_gib": stages[2]["peak_rss_gib"],
              "disk_gb": round(sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 1e9, 2)}
    print(f"  registration + first training step: {result['register_plus_first_step_seconds']:.0f} s "
          f"(goal < 600 s at 1M); trainer peak RSS {result['trainer_peak_rss_gib']:.2f} GiB (goal < 3); "
          f"disk {result['disk_gb']} GB", flush=True)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, action="append", help="passages (repeatable; default 1,000,000)")
    p.add_argument("--msmarco", action="store_true", help=f"N = {MSMARCO_PASSAGES:,} (MS MARCO passage)")
    p.add_argument("--triples-per-query", type=int, default=4)
    p.add_argument("--workdir", help="where the dataset, cache and indexes go (default: a temporary folder, removed)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--json", help="write the figures to this JSON file")
    args = p.parse_args()
    sizes = ([MSMARCO_PASSAGES] if args.msmarco else []) + (args.n or ([] if args.msmarco else [1_000_000]))
    if any(n < 1000 for n in sizes):
        print("error: --n must be >= 1000", file=sys.stderr)
        return 2
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    results = []
    for n in sizes:
        work = Path(args.workdir) / f"n{n}" if args.workdir else Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
        if work.exists() and args.workdir:
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        try:
            results.append(bench(n, args, work))
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    if len(results) > 1:
        xs = np.array([r["n"] for r in results], dtype=float)
        for key in ("register_plus_first_step_seconds",):
            ys = np.array([r[key] for r in results])
            slope, icept = np.polyfit(xs, ys, 1)
            print(f"extrapolated to N = {MSMARCO_PASSAGES:,}: {key} ~ {slope * MSMARCO_PASSAGES + icept:.0f} s "
                  f"(linear fit over N = {', '.join(f'{int(x):,}' for x in xs)})")
        for stage in ("bm25", "register"):
            ys = np.array([next(s["seconds"] for s in r["stages"] if s["stage"] == stage) for r in results])
            slope, icept = np.polyfit(xs, ys, 1)
            print(f"extrapolated to N = {MSMARCO_PASSAGES:,}: {stage} ~ {slope * MSMARCO_PASSAGES + icept:.0f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                               "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
