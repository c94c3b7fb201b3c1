"""User datasets: a corpus, topics and qrels the user brings, registered once under a name.

``python -m tctcb.data add NAME --beir DIR`` or ``add NAME --corpus FILE [--topics [SPLIT=]FILE ...]
[--qrels SPLIT=FILE ...]`` records the dataset in ``$TCTCB_CACHE/datasets.json`` (rewritten atomically; a
failed ``add`` leaves it as it was). Nothing is copied: the registry points at the user's files, and the
corpus gets an offset index (:class:`~tctcb.data._docstore.DocStore`) in the cache. From then on ``NAME`` is
a collection and ``NAME-SPLIT`` a topic set wherever built-in names work.

Topic sets: a split's topics are its own ``--topics SPLIT=FILE``, else the queries of the shared file
(``--topics FILE`` without a split, or BEIR's ``queries.jsonl``) that its qrels judge (BEIR's convention).
A split with topics and no qrels is a topic set without judgements (searchable, trainable from triples).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ._docstore import DocStore, sniff_corpus_format
from ._paths import DataError, cache_dir

__all__ = ["UserDataset", "load_registry", "add_dataset", "remove_dataset", "find_dataset", "find_topic_set",
           "REGISTRY_FILE"]

REGISTRY_FILE = "datasets.json"
REGISTRY_VERSION = 1
_SPLIT = re.compile(r"^[A-Za-z0-9_.]+$")


@dataclass
class UserDataset:
    name: str
    corpus: str
    corpus_format: str
    docs: int
    layout: str = "files"                                  # "beir" or "files"
    queries: str = ""                                      # shared queries file (BEIR queries.jsonl, --topics FILE)
    topics: dict[str, str] = field(default_factory=dict)   # split -> topics file of its own
    qrels: dict[str, str] = field(default_factory=dict)    # split -> qrels file
    source: str = ""                                       # the folder or files it was registered from

    @property
    def splits(self) -> list[str]:
        names = list(self.topics) + [s for s in self.qrels if s not in self.topics]
        return [s for s in names if s in self.topics or (s in self.qrels and self.queries)]

    @property
    def topic_sets(self) -> list[str]:
        return [f"{self.name}-{s}" for s in self.splits]

    def files(self) -> list[str]:
        return [self.corpus, *([self.queries] if self.queries else []), *self.topics.values(), *self.qrels.values()]

    def check_files(self) -> None:
        """A DataError naming the first registered file that is no longer there."""
        for f in self.files():
            if not Path(f).is_file():
                raise DataError(f"dataset {self.name!r}: {f} is missing (moved or deleted since 'tctcb.data add'); "
                                f"put it back or register again with 'python -m tctcb.data add {self.name} ... --force'")

    def docstore(self, log=None) -> DocStore:
        self.check_files()
        return DocStore.open(self.corpus, self.corpus_format, log=log)

    def topics_and_qrels(self, split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        from ._trec import read_qrels, read_topics

        if split not in self.splits:
            raise DataError(f"dataset {self.name!r} has no split {split!r}; it has: {', '.join(self.splits)}")
        self.check_files()
        qrels = read_qrels(self.qrels[split]) if split in self.qrels else {}
        if split in self.topics:
            return read_topics(self.topics[split]), qrels
        topics = {q: t for q, t in read_topics(self.queries).items() if q in qrels}
        return topics, qrels


# ---- the registry file -------------------------------------------------------------------------------------

def _registry_path(cache=None) -> Path:
    return cache_dir(cache) / REGISTRY_FILE


def load_registry(cache=None) -> dict[str, UserDataset]:
    """``name -> UserDataset`` of every registered dataset (empty when none was ever added)."""
    path = _registry_path(cache)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable dataset registry ({e}); remove it to start afresh") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datasets"), dict):
        raise DataError(f"{path}: not a tctcb dataset registry (no 'datasets' object); remove it to start afresh")
    try:
        return {name: UserDataset(**entry) for name, entry in raw["datasets"].items()}
    except TypeError as e:
        raise DataError(f"{path}: an entry does not fit this version of tctcb ({e}); remove it to start afresh") from None


def _save(datasets: dict[str, UserDataset], cache=None) -> None:
    from tctcb._atomic import write_text

    body = {"version": REGISTRY_VERSION, "datasets": {n: asdict(d) for n, d in sorted(datasets.items())}}
    write_text(_registry_path(cache), json.dumps(body, indent=1, ensure_ascii=False) + "\n")


def find_dataset(name: str, cache=None) -> UserDataset | None:
    return load_registry(cache).get(name)


def find_topic_set(name: str, cache=None) -> tuple[UserDataset, str] | None:
    """``(dataset, split)`` of a user topic set ``NAME-SPLIT``, or None."""
    for ds in load_registry(cache).values():
        prefix = ds.name + "-"
        if name.startswith(prefix) and name[len(prefix):] in ds.splits:
            return ds, name[len(prefix):]
    return None


# ---- add / remove --------------------------------------------------------------------------------------------

def _split_spec(value: str, option: str, allow_bare: bool) -> tuple[str | None, Path]:
    """``SPLIT=FILE`` -> (split, path); a bare ``FILE`` -> (None, path) where allowed. A value that is an
    existing file is a file even if it holds '=' (the names-and-files rule)."""
    if allow_bare and Path(value).is_file():
        return None, Path(value)
    split, sep, file = value.partition("=")
    if not sep:
        if allow_bare:
            raise DataError(f"{option} {value}: no such file")
        raise DataError(f"{option} {value}: expected SPLIT=FILE (e.g. {option} train=qrels.train.tsv)")
    if not _SPLIT.match(split):
        raise DataError(f"{option} {value}: split {split!r} may hold letters, digits, '_' and '.' only")
    if not Path(file).is_file():
        raise DataError(f"{option} {value}: file {file} not found")
    return split, Path(file)


def _check_name(name: str, force: bool, existing: dict[str, UserDataset], topic_sets: list[str]) -> None:
    from . import _catalog as cat

    if not name or "/" in name or os.sep in name or name.strip() != name or name.startswith("."):
        raise DataError(f"dataset name {name!r}: give a plain name (no '/', no leading '.', no spaces at the ends)")
    builtin = set(cat.COLLECTIONS) | set(cat.TOPIC_SETS) | set(cat.ALIASES)
    for n in [name, *topic_sets]:
        if n in builtin:
            raise DataError(f"dataset name {name!r}: {n!r} is a built-in collection or topic set name; choose another")
    for other in existing.values():
        if other.name == name:
            continue
        clash = ({other.name, *other.topic_sets}) & {name, *topic_sets}
        if clash:
            raise DataError(f"dataset name {name!r}: {sorted(clash)[0]!r} is already a name of dataset {other.name!r}")
    if name in existing and not force:
        raise DataError(f"dataset {name!r} is already registered ({existing[name].source}); "
                        f"add --force to replace it, or 'python -m tctcb.data remove {name}'")


def _beir_files(folder: Path) -> tuple[Path, Path, dict[str, Path]]:
    if not folder.is_dir():
        raise DataError(f"--beir {folder}: not a folder")
    corpus, queries = folder / "corpus.jsonl", folder / "queries.jsonl"
    for f in (corpus, queries):
        if not f.is_file():
            raise DataError(f"--beir {folder}: no {f.name} there (a BEIR folder holds corpus.jsonl, queries.jsonl "
                            "and qrels/{train,dev,test}.tsv)")
    qrels = {p.stem: p for p in sorted((folder / "qrels").glob("*.tsv"))}
    if not qrels:
        raise DataError(f"--beir {folder}: no qrels/*.tsv files (looked for qrels/train.tsv, dev.tsv, test.tsv)")
    return corpus, queries, qrels


def add_dataset(name: str, *, beir=None, corpus=None, topics=(), qrels=(), corpus_format: str | None = None,
                force: bool = False, cache=None, log=print) -> UserDataset:
    """Validate the files, build the corpus docstore, then record the dataset (atomically). Warnings (qrels
    whose queries have no topic, judged docids not in the corpus) go to ``log``; errors raise DataError."""
    from ._trec import read_qrels, read_topics

    if (beir is None) == (corpus is None):
        raise DataError("give either --beir DIR or --corpus FILE")
    existing = load_registry(cache)
    if beir is not None:
        if topics or qrels:
            raise DataError("--beir takes its topics and qrels from the folder: drop --topics/--qrels")
        folder = Path(beir).resolve()
        corpus_path, queries, qrels_files = _beir_files(folder)
        ds = UserDataset(name, str(corpus_path), "", 0, "beir", str(queries), {},
                         {s: str(p) for s, p in qrels_files.items()}, str(folder))
    else:
        corpus_path = Path(corpus).resolve()
        if not corpus_path.is_file():
            raise DataError(f"--corpus {corpus}: file not found")
        ds = UserDataset(name, str(corpus_path), "", 0, "files", source=str(corpus_path))
        for value in topics:
            split, path = _split_spec(value, "--topics", allow_bare=True)
            if split is None:
                if ds.queries:
                    raise DataError(f"--topics {value}: only one topics file without a split (SPLIT=FILE for the rest)")
                ds.queries = str(path.resolve())
            elif split in ds.topics:
                raise DataError(f"--topics {value}: split {split!r} given twice")
            else:
                ds.topics[split] = str(path.resolve())
        for value in qrels:
            split, path = _split_spec(value, "--qrels", allow_bare=False)
            if split in ds.qrels:
                raise DataError(f"--qrels {value}: split {split!r} given twice")
            ds.qrels[split] = str(path.resolve())
        orphans = [s for s in ds.qrels if s not in ds.topics and not ds.queries]
        if orphans:
            raise DataError(f"--qrels {orphans[0]}=...: no topics for split {orphans[0]!r} (give --topics "
                            f"{orphans[0]}=FILE, or one --topics FILE holding the queries of every split)")
    _check_name(name, force, existing, ds.topic_sets)
    ds.corpus_format = corpus_format or sniff_corpus_format(ds.corpus)
    store = DocStore.open(ds.corpus, ds.corpus_format, cache=cache, log=log)
    ds.docs = len(store)
    shared = read_topics(ds.queries) if ds.queries else {}
    for split in ds.splits:
        qrels_ = read_qrels(ds.qrels[split]) if split in ds.qrels else {}
        topics_ = read_topics(ds.topics[split]) if split in ds.topics else {q: t for q, t in shared.items() if q in qrels_}
        if split in ds.topics and not topics_:
            raise DataError(f"{ds.topics[split]}: no topics")
        pool = topics_ if split in ds.topics else shared
        unknown = [q for q in qrels_ if q not in pool]
        if unknown:
            log(f"warning: {ds.qrels[split]}: {len(unknown)} of {len(qrels_)} judged query ids have no topic "
                f"(e.g. {unknown[0]!r}); they are left out of {name}-{split}")
        docids = sorted({d for j in qrels_.values() for d in j})
        missing = int((store.rows(docids) < 0).sum()) if docids else 0
        if missing:
            log(f"warning: {ds.qrels[split]}: {missing} of {len(docids)} judged document ids are not in the corpus")
        if split in ds.qrels and not topics_:
            raise DataError(f"{ds.qrels[split]}: none of its query ids has a topic in "
                            f"{ds.topics.get(split) or ds.queries}: are these qrels for another topics file?")
        log(f"{name}-{split}: {len(topics_)} queries, {sum(1 for q in qrels_ if q in topics_)} judged, "
            f"{sum(len(j) for q, j in qrels_.items() if q in topics_)} judgements")
    existing = load_registry(cache)  # re-read: keep what another process added meanwhile
    existing[name] = ds
    _save(existing, cache)
    return ds


def remove_dataset(name: str, cache=None) -> UserDataset:
    existing = load_registry(cache)
    if name not in existing:
        raise DataError(f"no user dataset {name!r}; registered: {', '.join(existing) or '(none)'}")
    ds = existing.pop(name)
    _save(existing, cache)
    return ds
