"""Command line: ``python -m tctcb.data list|verify|jsonl|add|remove|download``.

``list`` prints every collection and topic set with its counts (built-in ones whose files are absent are
marked so), then the user datasets; ``verify`` checks every built-in file's size and md5; ``jsonl NAME``
writes (or finds) a collection's JSONL in the cache; ``add NAME --beir DIR | --corpus FILE [--topics
[SPLIT=]FILE ...] [--qrels SPLIT=FILE ...]`` registers a dataset of your own, ``remove NAME`` forgets it;
``download [NAME ...]`` fetches the built-in collections into the data folder. Bad input (unknown name,
missing file, malformed line): one ``error:`` line on stderr, exit code 2; Ctrl-C: exit 130.
"""
from __future__ import annotations

import argparse
import sys

from tctcb._command import ArgumentParser, command
from . import _catalog as cat
from ._paths import DataError
from ._registry import get_collection, get_topics_and_qrels, verify_files
from ._userdata import add_dataset, load_registry, remove_dataset


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.data", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in [("list", "collections and topic sets with their counts, user datasets included"),
                        ("verify", "check sizes and md5 checksums of the built-in data files"),
                        ("jsonl", "write a collection's Pyserini JSONL into the cache, print its directory")]:
        s = sub.add_parser(name, help=help_)
        s.add_argument("--data-dir", help="data directory (default: $TCTCB_DATA, else the download folder)")
        if name == "jsonl":
            s.add_argument("name", help="collection name")
            s.add_argument("--cache-dir", help="cache directory (default: $TCTCB_CACHE or ~/.cache/tctcb)")
    a = sub.add_parser("add", help="register a dataset of your own (BEIR folder, or corpus/topics/qrels files)",
                       description="Register a dataset: NAME becomes a collection and NAME-SPLIT a topic set for "
                                   "every split. Corpus: MS MARCO TSV (docid<TAB>text), Pyserini JSONL (id, "
                                   "contents) or BEIR JSONL (_id, title, text), plain or gzip; topics: TSV, JSONL or "
                                   "TREC SGML; qrels: TREC / MS MARCO 4 columns or BEIR TSV.")
    a.add_argument("name", help="dataset name (no '/'; must not be a built-in collection or topic set name)")
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--beir", metavar="DIR", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    src.add_argument("--corpus", metavar="FILE", help="the corpus file")
    a.add_argument("--topics", action="append", default=[], metavar="[SPLIT=]FILE",
                   help="topics of a split; a FILE without SPLIT= holds the queries of every split (those its qrels "
                        "judge); repeatable")
    a.add_argument("--qrels", action="append", default=[], metavar="SPLIT=FILE", help="qrels of a split; repeatable")
    a.add_argument("--format", choices=("tsv", "jsonl"), help="corpus format (default: sniffed from the first line)")
    a.add_argument("--force", action="store_true", help="replace a dataset registered under NAME")
    r = sub.add_parser("remove", help="forget a user dataset (its files are left alone)")
    r.add_argument("name")
    d = sub.add_parser("download", help="fetch the built-in collections (checksummed, resumable) into the data folder")
    d.add_argument("names", nargs="*", help="collections or topic sets (default: all)")
    d.add_argument("--data-dir", help="where to put them (default: $TCTCB_DATA, else ~/.cache/tctcb/data)")
    return p


def _mark(measured: int, expected: int) -> str:
    return "" if measured == expected else f"  MISMATCH (expected {expected:,})"


def _present(name: str, data_dir) -> bool:
    from ._download import present

    try:
        return present(name, data_dir)
    except DataError:  # no data folder at all
        return False


def _list(data_dir) -> int:
    bad = 0
    print(f"{'collection':<20}{'docs':>10}  topic sets")
    for name in cat.COLLECTIONS:
        if not _present(name, data_dir):
            print(f"{name:<20}{'-':>10}  {', '.join(cat.COLLECTIONS[name]['topic_sets'])}  "
                  f"(not here: python -m tctcb.data download {name})")
            continue
        n = len(get_collection(name, data_dir))
        exp = cat.COLLECTIONS[name]["docs"]
        bad += n != exp
        print(f"{name:<20}{n:>10,}  {', '.join(cat.COLLECTIONS[name]['topic_sets'])}{_mark(n, exp)}")
    print()
    print(f"{'topic set':<20}{'queries':>10}{'judged':>10}{'qrels':>10}  collection")
    for name, info in cat.TOPIC_SETS.items():
        if not _present(name, data_dir):
            print(f"{name:<20}{'-':>10}{'-':>10}{'-':>10}  (not here: python -m tctcb.data download {name})")
            continue
        topics, qrels = get_topics_and_qrels(name, data_dir)
        counts = (len(topics), sum(1 for q in qrels.values() if q), sum(len(q) for q in qrels.values()))
        expected = (info["queries"], info["judged"], info["qrels"])
        bad += counts != expected
        mark = "" if counts == expected else f"  MISMATCH (expected {expected[0]:,}/{expected[1]:,}/{expected[2]:,})"
        print(f"{name:<20}{counts[0]:>10,}{counts[1]:>10,}{counts[2]:>10,}  {info['collection'] or '(full MS MARCO)'}{mark}")
    users = load_registry()
    if users:
        print()
        print(f"{'user dataset':<20}{'docs':>10}  topic sets (queries/judged)  source")
        for ds in users.values():
            try:
                ds.check_files()
                sets = []
                for split in ds.splits:
                    topics, qrels = ds.topics_and_qrels(split)
                    sets.append(f"{ds.name}-{split} ({len(topics):,}/{sum(1 for q in qrels if q in topics):,})")
                print(f"{ds.name:<20}{ds.docs:>10,}  {', '.join(sets)}  {ds.source}")
            except DataError as e:
                bad += 1
                print(f"{ds.name:<20}{ds.docs:>10,}  BROKEN: {e}")
    return 1 if bad else 0


def _verify(data_dir) -> int:
    bad = 0
    for rel, status in verify_files(data_dir):
        print(f"{status:<8} {rel}" if status in ("OK", "MISSING") else f"{rel}: {status}")
        bad += status != "OK"
    return 1 if bad else 0


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _run(args) -> int:
    if args.command == "add":
        ds = add_dataset(args.name, beir=args.beir, corpus=args.corpus, topics=args.topics, qrels=args.qrels,
                         corpus_format=args.format, force=args.force, log=_log)
        print(f"registered {ds.name}: {ds.docs:,} documents ({ds.corpus_format}), topic sets "
              f"{', '.join(ds.topic_sets) or '(none)'}")
        return 0
    if args.command == "remove":
        ds = remove_dataset(args.name)
        print(f"removed {ds.name} (its files are untouched)")
        return 0
    if args.command == "download":
        from ._download import download

        download(args.names or None, args.data_dir, log=_log)
        return 0
    from ._paths import data_dir as resolve_data_dir

    if args.command == "list":
        if load_registry() and args.data_dir is None:
            try:
                resolve_data_dir(None)
            except DataError:  # user datasets need no data folder: list those and mark the built-ins absent
                pass
        else:
            resolve_data_dir(args.data_dir)
        return _list(args.data_dir)
    resolve_data_dir(args.data_dir)  # fail before printing anything when there is no data directory
    if args.command == "verify":
        return _verify(args.data_dir)
    print(get_collection(args.name, args.data_dir).jsonl_dir(args.cache_dir))
    return 0


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
