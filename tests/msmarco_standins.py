"""Tiny stand-ins for the downloads behind docs/msmarco.md's commands, placed under the real names where Pyserini
and Hugging Face keep downloads, so that those commands run to the end without a network.

    python tests/msmarco_standins.py DIR [--passages N]     # builds DIR once, prints the environment to export

``DIR`` then holds

- ``pyserini/indexes/<folder>``: Pyserini's cache (``$PYSERINI_CACHE``) with the folder Pyserini would unpack
  each prebuilt index into (``<tarball name>.<md5>``, from Pyserini's own tables): the flat FAISS indexes
  ``msmarco-v1-passage.tct_colbert`` and ``msmarco-v1-passage.tct_colbert-v2-hnp`` and the HNSW index
  ``msmarco-v1-passage.tct_colbert.hnsw`` (``index``, ``docid``: what Pyserini's tarballs hold), the Lucene indexes
  ``msmarco-v1-passage`` and ``msmarco-v1-passage.d2q-t5`` (built by tctcb's Lucene builder, the second over
  the passages with synthetic "expansions" appended) and the impact index ``msmarco-v1-passage.splade-pp-ed``
  (tctcb's impact builder, SPLADE weights of the stand-in SPLADE model);
- ``hf/hub/models--ORG--NAME/snapshots/<sha>/`` + ``refs/main``: the Hugging Face cache (``$HF_HOME``) holding
  ``castorini/tct_colbert-msmarco`` and ``castorini/tct_colbert-v2-hnp-msmarco`` (tiny random BERTs, each
  encoding its index's passages) and ``naver/splade-cocondenser-ensembledistil`` (a
  tiny random BERT masked LM, sparse like SPLADE);
- ``standins.json``: the sha256 of every file placed. A rerun reuses ``DIR`` when every file still matches
  and otherwise stops with one line (a stale stand-in cache: a file changed or missing).

The passages (``--passages``, default 100) have MS MARCO-like ids: the judged passages of the first
msmarco-dev and dl19-passage queries (their text holds the query's words, so runs score above zero), then
0, 1, 2, ...; the topics and qrels are the real ones from ``$TCTCB_DATA/msmarco-passage``. Only the
downloads themselves are not exercised.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import sys
from pathlib import Path

__all__ = ["DENSE", "HNSW", "ENCODERS", "LUCENE", "IMPACT", "StaleStandins", "build_standins", "standin_env",
           "pyserini_folder", "hf_snapshot"]

DENSE = ("msmarco-v1-passage.tct_colbert", "msmarco-v1-passage.tct_colbert-v2-hnp")
HNSW = "msmarco-v1-passage.tct_colbert.hnsw"  # the vectors of DENSE[0] in an HNSW index
LUCENE = ("msmarco-v1-passage", "msmarco-v1-passage.d2q-t5")
IMPACT = ("msmarco-v1-passage.splade-pp-ed",)
TCT, TCT_V2 = "castorini/tct_colbert-msmarco", "castorini/tct_colbert-v2-hnp-msmarco"
SPLADE = "naver/splade-cocondenser-ensembledistil"
ENCODERS = (TCT, TCT_V2, SPLADE)
MANIFEST = "standins.json"
_SNAPSHOT = hashlib.sha1(b"tctcb stand-in").hexdigest()  # a commit hash, as the Hub's cache names snapshots
_SEED = 0


class StaleStandins(Exception):
    """The stand-in folder does not hold what its manifest recorded (changed, missing or half-built)."""


def standin_env(root) -> dict[str, str]:
    """The environment under which the named indexes and encoders resolve to the stand-ins under ``root``."""
    root = Path(root).resolve()
    return {"PYSERINI_CACHE": str(root / "pyserini"), "HF_HOME": str(root / "hf"),
            "HF_HUB_CACHE": str(root / "hf" / "hub"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def pyserini_folder(pyserini_cache, name: str) -> Path:
    """Where Pyserini unpacks the prebuilt index ``name`` (its tables give the tarball name and md5)."""
    from tctcb import java

    java.start()  # Pyserini's prebuilt index tables are read from Anserini's jar
    from pyserini.prebuilt_index_info import FAISS_INDEX_INFO, IMPACT_INDEX_INFO, TF_INDEX_INFO

    entry = {**TF_INDEX_INFO, **IMPACT_INDEX_INFO, **FAISS_INDEX_INFO}[name]
    stem = entry["filename"].removesuffix(".tar.gz")
    return Path(pyserini_cache) / "indexes" / f"{stem}.{entry['md5']}"


def hf_snapshot(hub_cache, model_id: str) -> Path:
    """The snapshot folder of ``model_id`` in a Hugging Face hub cache (as ``refs/main`` points to it)."""
    return Path(hub_cache) / f"models--{model_id.replace('/', '--')}" / "snapshots" / _SNAPSHOT


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _placed(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {str(p.relative_to(root)): _sha256(p) for p in files}


def _check(root: Path, passages: int) -> None:
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise StaleStandins(f"stale stand-in cache {root}: no {MANIFEST} (an interrupted build?); delete {root} and rerun")
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        files, count = recorded["files"], recorded["passages"]
    except (ValueError, KeyError, TypeError) as e:
        raise StaleStandins(f"stale stand-in cache {root}: {manifest} is not readable ({e}); delete {root} and rerun") from None
    if count != passages:
        raise StaleStandins(f"stale stand-in cache {root}: built with {count} passages, {passages} asked for; "
                            f"delete {root} and rerun")
    for rel, sha in files.items():
        p = root / rel
        if not p.is_file():
            raise StaleStandins(f"stale stand-in cache {root}: {rel} is missing; delete {root} and rerun")
        if _sha256(p) != sha:
            raise StaleStandins(f"stale stand-in cache {root}: {rel} changed (checksum mismatch); delete {root} "
                                "and rerun")


# --- synthetic passages -----------------------------------------------------------------------------
def _passages(n: int) -> tuple[dict[str, str], dict[str, str]]:
    """(passages, d2q-expanded passages), ``pid -> text``, with ``n`` passages."""
    from tctcb.data import load_qrels, load_topics

    rng = random.Random(_SEED)
    judged: dict[str, str] = {}  # pid -> the query whose words it holds
    for name, min_grade, take in (("msmarco-dev", 1, n // 3), ("dl19-passage", 2, n // 6)):
        topics, qrels = load_topics(name), load_qrels(name)
        added = 0
        for qid, text in topics.items():
            if added >= take:
                break
            relevant = sorted(pid for pid, grade in qrels.get(qid, {}).items() if grade >= min_grade)
            if relevant and relevant[0] not in judged:
                judged[relevant[0]] = text
                added += 1
    words = sorted({w for name in ("msmarco-dev", "dl19-passage") for q in load_topics(name).values()
                    for w in q.lower().split() if w.isalpha()})
    pids = list(judged)
    i = 0
    while len(pids) < n:
        if str(i) not in judged:
            pids.append(str(i))
        i += 1
    plain, expanded = {}, {}
    for pid in pids:
        filler = " ".join(rng.choice(words) for _ in range(rng.randint(20, 40)))
        text = f"{judged[pid]} {filler}" if pid in judged else filler
        plain[pid] = text
        expansion = judged.get(pid) or " ".join(rng.choice(words) for _ in range(8))
        expanded[pid] = f"{text} {expansion}"
    return plain, expanded


# --- tiny models ------------------------------------------------------------------------------------
def _tiny_splade(path: Path) -> Path:
    """SPLADE stand-in: only 200 vocabulary entries can get a positive weight (few query terms, as a real SPLADE
    query has tens)."""
    from tiny_models import make_tiny_splade

    return make_tiny_splade(path, active=200, seed=_SEED)


def _place_model(hub: Path, model_id: str, make) -> Path:
    snap = hf_snapshot(hub, model_id)
    make(snap)
    refs = snap.parents[1] / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(_SNAPSHOT)
    return snap


# --- indexes ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _tctcb_cache(path: Path):
    """tctcb's cache (user datasets, Lucene builds) pointed at ``path`` while the stand-ins are built."""
    old = os.environ.get("TCTCB_CACHE")
    os.environ["TCTCB_CACHE"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TCTCB_CACHE", None)
        else:
            os.environ["TCTCB_CACHE"] = old


def _register(work: Path, name: str, passages: dict[str, str]) -> str:
    from tctcb.data import add_dataset

    tsv = work / f"{name}.tsv"
    tsv.write_text("".join(f"{pid}\t{text}\n" for pid, text in passages.items()), encoding="utf-8")
    add_dataset(name, corpus=tsv, log=lambda *a, **k: None)
    return name


def _move_index(built: Path, dest: Path, drop=("meta.json", "impact.json", "write.lock")) -> None:
    """A built index into Pyserini's folder, without tctcb's metadata files (Pyserini's tarballs have none)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(built, dest)
    for f in drop:
        (dest / f).unlink(missing_ok=True)


def _dense_index(dest: Path, encoder_dir: Path, passages: dict[str, str], hnsw_dest: Path | None = None) -> None:
    import faiss

    from tctcb.encode import TctColBertDocumentEncoder

    enc = TctColBertDocumentEncoder(encoder_dir)
    pids = list(passages)
    vectors = enc.encode([passages[p] for p in pids]).astype("float32")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    for index, folder in ((flat, dest), (hnsw, hnsw_dest)):
        if folder is None:
            continue
        index.add(vectors)
        folder.mkdir(parents=True)
        faiss.write_index(index, str(folder / "index"))
        (folder / "docid").write_text("".join(p + "\n" for p in pids), encoding="utf-8")


def build_standins(root, passages: int = 100) -> dict[str, str]:
    """Build the stand-ins under ``root`` (once: a complete folder whose files match its manifest is reused)
    and return :func:`standin_env`. Raises :class:`StaleStandins` for a folder that does not match."""
    root = Path(root).resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):  # an empty folder is built into
        _check(root, passages)
        return standin_env(root)
    from tctcb import java
    from tctcb.index import build_impact_index, build_lucene_index

    tmp = root.with_name(root.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        java.start()
        plain, expanded = _passages(passages)
        hub = tmp / "hf" / "hub"
        splade = _place_model(hub, SPLADE, _tiny_splade)
        pyserini = tmp / "pyserini"
        for seed, (index_name, model_id) in enumerate(zip(DENSE, (TCT, TCT_V2))):
            encoder = _place_model(hub, model_id, lambda p: _tiny_bert(p, seed))
            hnsw = pyserini_folder(pyserini, HNSW) if index_name == DENSE[0] else None
            _dense_index(pyserini_folder(pyserini, index_name), encoder, plain, hnsw)
        work = tmp / "work"
        work.mkdir()
        with _tctcb_cache(work / "cache"):
            bow = build_lucene_index(_register(work, "standin", plain))
            d2q = build_lucene_index(_register(work, "standind2q", expanded))
            impact = build_impact_index("standin", splade, work / "impact")
        _move_index(bow, pyserini_folder(pyserini, LUCENE[0]))
        _move_index(d2q, pyserini_folder(pyserini, LUCENE[1]))
        _move_index(impact, pyserini_folder(pyserini, IMPACT[0]))
        shutil.rmtree(work)
        (tmp / "passages.tsv").write_text("".join(f"{p}\t{t}\n" for p, t in plain.items()), encoding="utf-8")
        (tmp / MANIFEST).write_text(json.dumps({"passages": passages, "files": _placed(tmp)}, indent=1) + "\n")
        tmp.rename(root)
    except BaseException:  # nothing half-built is left behind (a rerun starts afresh)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return standin_env(root)


def _tiny_bert(path: Path, seed: int) -> Path:
    from tiny_models import make_tiny_bert

    return make_tiny_bert(path, seed=seed)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/msmarco_standins.py", description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="folder for the stand-in caches (built once, then checked and reused)")
    p.add_argument("--passages", type=int, default=100)
    args = p.parse_args(argv)
    from tctcb._command import UserError

    try:
        env = build_standins(args.dir, args.passages)
    except (StaleStandins, UserError) as e:  # a changed stand-in folder; no topics/qrels in $TCTCB_DATA
        print(f"error: {e}", file=sys.stderr)
        return 2
    for k, v in env.items():
        print(f"export {k}={v}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
