"""Named collections and topic sets: which files they come from and how they are read.

``get_collection(name)``, ``get_topics(name)``, ``get_qrels(name)``, ``topics_collection(name)``,
``list_collections()``, ``list_topic_sets()``, ``verify_files()``. Every function takes an optional
``data_dir`` (default ``$TCTCB_DATA``); derived files go under ``cache_dir()``.

CACM quirk: Anserini's ``qrels.cacm.txt`` writes docids below 1000 unpadded (``CACM-122``) while the
documents are ``CACM-0122`` (file stems, as Anserini's HtmlCollection names them), so 55 of its 796
judgements (46 distinct docids) match no document. ``get_qrels("cacm")`` returns the file as is, because Anserini's published
BM25 regression (MAP 0.3123, P@30 0.1942) is measured against exactly these qrels.

TREC DL convention for ``dl19-pool`` / ``dl19-passage`` (applied by the evaluation code, not here):
nDCG@10 uses the graded qrels (0..3); binary measures (R@k, RR@10, AP) count grade >= 2 as relevant.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator

from . import _catalog as catalog
from ._beir import read_beir_corpus, read_beir_qrels, read_beir_queries
from ._cacm import read_cacm_docs, unpack_html
from ._docstore import DocStore
from ._jsonl import JSONL_NAME, write_jsonl_collection
from ._paths import DataError, cache_dir, data_dir as _data_dir, require_file
from ._rankllm import read_rankllm_pool
from ._records import Document
from ._scifact import read_scifact_claims, read_scifact_corpus
from ._smart import read_smart_docs, read_smart_qrels, read_smart_queries
from ._trec import read_topics, read_trec_qrels
from ._userdata import find_dataset, find_topic_set, load_registry

#: bump when the conversion of any collection to JSONL changes, so stale cache entries are not reused
JSONL_VERSION = 1

PathLike = str | os.PathLike | None


def _file(rel: str, data_dir: PathLike) -> Path:
    return require_file(_data_dir(data_dir) / rel)


# ---- documents -------------------------------------------------------------------------------------------

def _docs_adi(d):
    return read_smart_docs((_file("adi/adi.tar.gz", d), "ADI.ALL"))


def _docs_cranfield(d):
    return read_smart_docs((_file("cranfield/cran.tar.gz", d), "cran.all.1400"))


def _docs_cacm(d):
    return read_cacm_docs(_file("cacm/cacm.tar.gz", d))


def _docs_nfcorpus(d):
    # corpus/human.jsonl: the human-written documents (the zip's llama-2 corpus is an LLM rewrite: ignored)
    return read_beir_corpus((_file("nfcorpus/nfcorpus.zip", d), "corpus/human.jsonl"))


def _docs_scifact(d):
    return read_scifact_corpus((_file("scifact/scifact.zip", d), "corpus_train.csv"))


def _docs_dl19_pool(d):
    return read_rankllm_pool([_file(p, d) for p in catalog.RANKLLM_PATHS])


_DOC_READERS: dict[str, Callable[[PathLike], Iterator[Document]]] = {
    "adi": _docs_adi, "cacm": _docs_cacm, "cranfield": _docs_cranfield,
    "nfcorpus": _docs_nfcorpus, "scifact": _docs_scifact, "dl19-pool": _docs_dl19_pool,
}

# ---- topics and qrels ------------------------------------------------------------------------------------

Qrels = dict[str, dict[str, int]]


def _adi(d) -> tuple[dict[str, str], Qrels]:
    tar = _file("adi/adi.tar.gz", d)
    topics = {q.qid: q.text for q in read_smart_queries((tar, "ADI.QRY"))}
    return topics, read_smart_qrels((tar, "ADI.REL"), graded=False)


def _cranfield(d):
    tar = _file("cranfield/cran.tar.gz", d)
    topics = {q.qid: q.text for q in read_smart_queries((tar, "cran.qry"), renumber=True)}
    return topics, read_smart_qrels((tar, "cranqrel"), graded=True)


def _trec_pair(topics_rel: str, qrels_rel: str):
    def load(d):
        return read_topics(_file(topics_rel, d)), read_trec_qrels(_file(qrels_rel, d))
    return load


def _nfcorpus(split: str):
    def load(d):
        z = _file("nfcorpus/nfcorpus.zip", d)
        qrels = read_beir_qrels((z, f"qrels/{split}.tsv"))
        # BEIR convention: a split's queries are the queries it judges, in queries.jsonl order
        topics = {q.qid: q.text for q in read_beir_queries((z, "queries.jsonl")) if q.qid in qrels}
        missing = set(qrels) - set(topics)
        if missing:
            raise DataError(f"{z}!qrels/{split}.tsv judges queries missing from queries.jsonl: {sorted(missing)[:5]}")
        return topics, qrels
    return load


def _scifact(member: str):
    def load(d):
        return read_scifact_claims((_file("scifact/scifact.zip", d), member))
    return load


def _scifact_dev(keep: bool):
    """scifact-train's claims in (``keep``) or out of :data:`catalog.SCIFACT_DEV_QIDS`, in file order."""
    def load(d):
        topics, qrels = _scifact("claims_train.csv")(d)
        dev = set(catalog.SCIFACT_DEV_QIDS)
        missing = dev - set(topics)
        if missing:
            raise DataError(f"scifact/scifact.zip!claims_train.csv lacks the scifact-dev claims {sorted(missing)[:5]}")
        return ({q: t for q, t in topics.items() if (q in dev) == keep},
                {q: j for q, j in qrels.items() if (q in dev) == keep})
    return load


def _dl19_pool(d):
    topics, qrels = _trec_pair("msmarco-passage/topics.dl19-passage.txt", "msmarco-passage/qrels.dl19-passage.txt")(d)
    pool = {doc.docid for doc in _docs_dl19_pool(d)}
    restricted = {q: {p: g for p, g in judged.items() if p in pool} for q, judged in qrels.items()}
    return topics, {q: judged for q, judged in restricted.items() if judged}


_TOPIC_READERS: dict[str, Callable[[PathLike], tuple[dict[str, str], Qrels]]] = {
    "adi": _adi,
    "cacm": _trec_pair("cacm/topics.cacm.txt", "cacm/qrels.cacm.txt"),
    "cranfield": _cranfield,
    "nfcorpus-train": _nfcorpus("train"), "nfcorpus-dev": _nfcorpus("dev"), "nfcorpus-test": _nfcorpus("test"),
    "scifact-train": _scifact("claims_train.csv"), "scifact-test": _scifact("claims_validation.csv"),
    "scifact-dev": _scifact_dev(True), "scifact-train-nodev": _scifact_dev(False),
    "dl19-pool": _dl19_pool,
    "dl19-passage": _trec_pair("msmarco-passage/topics.dl19-passage.txt", "msmarco-passage/qrels.dl19-passage.txt"),
    "msmarco-dev": _trec_pair("msmarco-passage/topics.msmarco-passage.dev-subset.txt",
                              "msmarco-passage/qrels.msmarco-passage.dev-subset.txt"),
}

# ---- public API ------------------------------------------------------------------------------------------


def list_collections() -> list[str]:
    """Built-in collections, then the user datasets registered with ``python -m tctcb.data add``."""
    return list(catalog.COLLECTIONS) + list(load_registry())


def list_topic_sets() -> list[str]:
    """Built-in topic sets, then the user datasets' ``NAME-SPLIT`` sets."""
    return list(catalog.TOPIC_SETS) + [t for ds in load_registry().values() for t in ds.topic_sets]


def _collection_name(name: str) -> str:
    if name not in catalog.COLLECTIONS and find_dataset(name) is None:
        raise DataError(f"unknown collection {name!r}; known: {', '.join(list_collections())} "
                        "(register your own with 'python -m tctcb.data add NAME ...')")
    return name


def _topic_set_name(name: str) -> str:
    name = catalog.ALIASES.get(name, name)
    if name not in catalog.TOPIC_SETS and find_topic_set(name) is None:
        known = list_topic_sets() + list(catalog.ALIASES)
        raise DataError(f"unknown topic set {name!r}; known: {', '.join(known)} "
                        "(register your own with 'python -m tctcb.data add NAME ...', or give a topics file)")
    return name


class Collection:
    """A registered document collection, read from the data directory on demand."""

    def __init__(self, name: str, data_dir: PathLike = None):
        self.name = _collection_name(name)
        self._data_dir = data_dir
        self._len: int | None = None
        self._indexable: int | None = None

    @property
    def cache_name(self) -> str:
        """The name derived files (JSONL, indexes) are kept under in the cache."""
        return self.name

    def __repr__(self) -> str:
        return f"Collection({self.name!r})"

    @property
    def topic_sets(self) -> list[str]:
        return list(catalog.COLLECTIONS[self.name]["topic_sets"])

    @property
    def expected_docs(self) -> int:
        """The document count the registry states (from the data's SOURCE.md)."""
        return catalog.COLLECTIONS[self.name]["docs"]

    def docs(self) -> Iterator[Document]:
        """Documents in corpus order."""
        return _DOC_READERS[self.name](self._data_dir)

    def __iter__(self) -> Iterator[Document]:
        return self.docs()

    def __len__(self) -> int:
        """Number of documents, counted by reading the collection once."""
        if self._len is None:
            self._len = sum(1 for _ in self.docs())
        return self._len

    def indexable_count(self) -> int:
        """Documents with non-blank contents: what Anserini's DefaultLuceneDocumentGenerator indexes (it skips
        empty documents; Cranfield has two, 471 and 995, so its Lucene index holds 1,398 of 1,400)."""
        if self._indexable is None:
            self._indexable = sum(1 for d in self.docs() if d.contents.strip())
        return self._indexable

    def jsonl_dir(self, cache: PathLike = None) -> Path:
        """A directory holding this collection as Pyserini JsonCollection JSONL (``docs.jsonl``, lines
        ``{"id", "contents"}``), written atomically into the cache on first use and reused after."""
        target = cache_dir(cache) / f"jsonl-v{JSONL_VERSION}" / self.cache_name
        return write_jsonl_collection(self.docs(), target, expected=self.expected_docs)

    def docstore(self, log=None) -> DocStore:
        """``docid -> contents`` without holding the corpus in memory (an offset index over the JSONL)."""
        return DocStore.open(self.jsonl_dir() / JSONL_NAME, "jsonl", log=log)


class UserCollection(Collection):
    """A dataset registered with ``python -m tctcb.data add``: documents read from the user's own file."""

    def __init__(self, name: str, data_dir: PathLike = None):
        super().__init__(name, data_dir)
        self.dataset = find_dataset(name)

    def __repr__(self) -> str:
        return f"UserCollection({self.name!r}, {self.dataset.corpus!r})"

    @property
    def cache_name(self) -> str:
        # re-registering NAME over another corpus must not reuse the old one's JSONL or indexes
        st = Path(self.dataset.corpus).stat() if Path(self.dataset.corpus).is_file() else None
        key = f"{self.dataset.corpus}|{st.st_size if st else ''}|{st.st_mtime_ns if st else ''}"
        return f"{self.name}.{hashlib.sha1(key.encode()).hexdigest()[:8]}"

    @property
    def topic_sets(self) -> list[str]:
        return self.dataset.topic_sets

    @property
    def expected_docs(self) -> int:
        return self.dataset.docs

    def docstore(self, log=None) -> DocStore:
        store = self.dataset.docstore(log=log)
        if len(store) != self.dataset.docs:
            raise DataError(f"dataset {self.name!r}: {self.dataset.corpus} now holds {len(store)} documents, "
                            f"{self.dataset.docs} when it was registered: register it again with --force")
        return store

    def docs(self) -> Iterator[Document]:
        return self.docstore().docs()

    def __len__(self) -> int:
        return self.dataset.docs


class CacmCollection(Collection):
    def html_dir(self, cache: PathLike = None) -> Path:
        """The original HTML files (``CACM-0001.html`` ...) unpacked into the cache, for Anserini's
        ``HtmlCollection``."""
        return unpack_html(_file("cacm/cacm.tar.gz", self._data_dir), cache_dir(cache) / "html" / "cacm")


def get_collection(name: str, data_dir: PathLike = None) -> Collection:
    """The registered collection ``name`` (one of ``list_collections()``: built-in or user dataset)."""
    if _collection_name(name) not in catalog.COLLECTIONS:
        return UserCollection(name, data_dir)
    cls = CacmCollection if name == "cacm" else Collection
    return cls(name, data_dir)


def topics_collection(name: str) -> str | None:
    """The registered collection a topic set searches; None for msmarco-dev / dl19-passage (full MS MARCO)."""
    name = _topic_set_name(name)
    if name in catalog.TOPIC_SETS:
        return catalog.TOPIC_SETS[name]["collection"]
    return find_topic_set(name)[0].name


def get_topics_and_qrels(name: str, data_dir: PathLike = None) -> tuple[dict[str, str], Qrels]:
    name = _topic_set_name(name)
    if name in _TOPIC_READERS:
        return _TOPIC_READERS[name](data_dir)
    ds, split = find_topic_set(name)
    return ds.topics_and_qrels(split)


def get_topics(name: str, data_dir: PathLike = None) -> dict[str, str]:
    """``qid -> query text`` of topic set ``name``, in file order."""
    return get_topics_and_qrels(name, data_dir)[0]


def get_qrels(name: str, data_dir: PathLike = None) -> Qrels:
    """``qid -> {docid: grade}`` of topic set ``name``."""
    return get_topics_and_qrels(name, data_dir)[1]


def _md5(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def verify_files(data_dir: PathLike = None) -> list[tuple[str, str]]:
    """``(relative path, "OK" | "MISSING" | "BAD ...")`` for every registered file."""
    root = _data_dir(data_dir)
    out = []
    for rel, info in catalog.FILES.items():
        p = root / rel
        if not p.is_file():
            out.append((rel, "MISSING"))
        elif p.stat().st_size != info["bytes"]:
            out.append((rel, f"BAD size {p.stat().st_size}, expected {info['bytes']}"))
        else:
            md5 = _md5(p)
            out.append((rel, "OK" if md5 == info["md5"] else f"BAD md5 {md5}, expected {info['md5']}"))
    return out
