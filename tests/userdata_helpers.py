"""Small user datasets written by the tests themselves: a BEIR folder and MS MARCO-style TSV files.

Documents are about one of 20 made-up topics (each with its own words), so BM25 and a trained dense model
find the relevant ones; the qrels judge the documents of the query's topic (six each), the triples pair two of
them with a document of the next topic. Deterministic.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

_FILLER = "the of and in to a is for on with as by at from this that which are be".split()


def _topic_words(t: int) -> list[str]:
    return [f"{stem}{t}" for stem in ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta")]


def build(n_docs: int = 120, n_topics: int = 20, splits=(("train", 24), ("dev", 8), ("test", 8)), seed: int = 0):
    """(docs [(id, title, text)], queries {split: [(qid, text)]}, qrels {split: [(qid, docid)]}, triples)."""
    rng = random.Random(seed)
    docs, by_topic = [], {}
    for i in range(n_docs):
        t = i % n_topics
        words = rng.sample(_topic_words(t), 4) + rng.sample(_FILLER, 6)
        rng.shuffle(words)
        docid = f"d{i:04d}"
        docs.append((docid, f"topic {t}", " ".join(words)))
        by_topic.setdefault(t, []).append(docid)
    queries, qrels, triples = {}, {}, []
    n = 0
    for split, count in splits:
        queries[split], qrels[split] = [], []
        for _ in range(count):
            t = n % n_topics
            qid = f"q{n}"
            n += 1
            queries[split].append((qid, " ".join(rng.sample(_topic_words(t), 2))))
            rel = by_topic[t]  # every document of the query's topic is relevant
            qrels[split] += [(qid, d) for d in rel]
            if split == "train":
                for d in rng.sample(rel, 2):
                    neg = rng.choice(by_topic[(t + 1) % n_topics])
                    triples.append((qid, d, neg))
    return docs, queries, qrels, triples


def write_beir(root: Path, **kw) -> Path:
    docs, queries, qrels, _ = build(**kw)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "corpus.jsonl", "w") as f:
        for docid, title, text in docs:
            f.write(json.dumps({"_id": docid, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w") as f:
        for split in queries:
            for qid, text in queries[split]:
                f.write(json.dumps({"_id": qid, "text": text, "metadata": {}}) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    for split, pairs in qrels.items():
        with open(root / "qrels" / f"{split}.tsv", "w") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for qid, d in pairs:
                f.write(f"{qid}\t{d}\t1\n")
    return root


def write_msmarco(root: Path, **kw) -> dict[str, Path]:
    """``collection.tsv``, ``queries.SPLIT.tsv``, ``qrels.SPLIT.tsv`` (MS MARCO's ``qid 0 pid 1``, tab-separated)
    and ``qidpidtriples.train.tsv``; returns their paths by role."""
    docs, queries, qrels, triples = build(**kw)
    root.mkdir(parents=True, exist_ok=True)
    paths = {"collection": root / "collection.tsv", "triples": root / "qidpidtriples.train.tsv"}
    with open(paths["collection"], "w") as f:
        for docid, title, text in docs:
            f.write(f"{docid}\t{title} {text}\n")
    for split in queries:
        paths[f"queries.{split}"] = root / f"queries.{split}.tsv"
        paths[f"qrels.{split}"] = root / f"qrels.{split}.tsv"
        with open(paths[f"queries.{split}"], "w") as f:
            f.writelines(f"{qid}\t{text}\n" for qid, text in queries[split])
        with open(paths[f"qrels.{split}"], "w") as f:
            f.writelines(f"{qid}\t0\t{d}\t1\n" for qid, d in qrels[split])
    with open(paths["triples"], "w") as f:
        f.writelines(f"{q}\t{p}\t{n}\n" for q, p, n in triples)
    return paths


def msmarco_add_args(name: str, paths: dict[str, Path]) -> list[str]:
    """``python -m tctcb.data add`` arguments registering ``write_msmarco``'s files."""
    args = ["add", name, "--corpus", str(paths["collection"])]
    for split in ("train", "dev", "test"):
        args += ["--topics", f"{split}={paths[f'queries.{split}']}", "--qrels", f"{split}={paths[f'qrels.{split}']}"]
    return args
