"""Command line: ``python -m tctcb.data list [--data-dir DIR]`` prints every collection and topic set with
its counts; ``verify`` checks every registered file's size and md5; ``jsonl NAME`` writes (or finds)
a collection's JSONL in the cache and prints the directory. Bad input (unknown name, missing file,
malformed line): one line on stderr, exit code 2."""
from __future__ import annotations

import argparse
import sys

from . import _catalog as cat
from ._paths import DataError, data_dir as resolve_data_dir
from ._registry import get_collection, get_topics_and_qrels, list_collections, list_topic_sets, verify_files


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tctcb.data", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in [("list", "collections and topic sets with their counts"),
                        ("verify", "check sizes and md5 checksums of the data files"),
                        ("jsonl", "write a collection's Pyserini JSONL into the cache, print its directory")]:
        s = sub.add_parser(name, help=help_)
        s.add_argument("--data-dir", help="data directory (default: $TCTCB_DATA)")
        if name == "jsonl":
            s.add_argument("name", help="collection name")
            s.add_argument("--cache-dir", help="cache directory (default: $TCTCB_CACHE or ~/.cache/tctcb)")
    return p


def _mark(measured: int, expected: int) -> str:
    return "" if measured == expected else f"  MISMATCH (expected {expected:,})"


def _list(data_dir) -> int:
    bad = 0
    print(f"{'collection':<20}{'docs':>10}  topic sets")
    for name in list_collections():
        n = len(get_collection(name, data_dir))
        exp = cat.COLLECTIONS[name]["docs"]
        bad += n != exp
        print(f"{name:<20}{n:>10,}  {', '.join(cat.COLLECTIONS[name]['topic_sets'])}{_mark(n, exp)}")
    print()
    print(f"{'topic set':<20}{'queries':>10}{'judged':>10}{'qrels':>10}  collection")
    for name in list_topic_sets():
        topics, qrels = get_topics_and_qrels(name, data_dir)
        info = cat.TOPIC_SETS[name]
        counts = (len(topics), sum(1 for q in qrels.values() if q), sum(len(q) for q in qrels.values()))
        expected = (info["queries"], info["judged"], info["qrels"])
        bad += counts != expected
        mark = "" if counts == expected else f"  MISMATCH (expected {expected[0]:,}/{expected[1]:,}/{expected[2]:,})"
        print(f"{name:<20}{counts[0]:>10,}{counts[1]:>10,}{counts[2]:>10,}  {info['collection'] or '(full MS MARCO)'}{mark}")
    return 1 if bad else 0


def _verify(data_dir) -> int:
    bad = 0
    for rel, status in verify_files(data_dir):
        print(f"{status:<8} {rel}" if status in ("OK", "MISSING") else f"{rel}: {status}")
        bad += status != "OK"
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        resolve_data_dir(args.data_dir)  # fail before printing anything when there is no data directory
        if args.command == "list":
            return _list(args.data_dir)
        if args.command == "verify":
            return _verify(args.data_dir)
        print(get_collection(args.name, args.data_dir).jsonl_dir(args.cache_dir))
        return 0
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
