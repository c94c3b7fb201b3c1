"""``python -m tctcb.index lucene|bm25-run|faiss|impact ...``: dispatches to the implementation modules
(imported lazily, so the FAISS side never starts the JVM and the Lucene side never imports torch)."""
from __future__ import annotations

import sys

from tctcb._command import command

_USAGE = ("usage: python -m tctcb.index {lucene,bm25-run,faiss,impact} ...\n"
          "  lucene    build the BM25 Lucene index of a registered collection (--collection NAME)\n"
          "  bm25-run  BM25 run file from a Lucene index (--collection NAME --topics NAME --output RUN)\n"
          "  faiss     build a FAISS index from encoded shards\n"
          "  impact    build a SPLADE impact (Lucene) index of a registered collection (--collection NAME)")


@command
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("error: give a command: lucene, faiss, impact or bm25-run (see python -m tctcb.index --help)",
              file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(_USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "lucene":
        from tctcb.index import _lucene

        return _lucene.main(rest)
    if command == "bm25-run":
        from tctcb.index import _lucene

        return _lucene.bm25_main(rest)
    if command == "faiss":
        from tctcb.index import _faiss

        return _faiss.main(rest)
    if command == "impact":
        from tctcb.index import _impact_cli

        return _impact_cli.main(rest)
    print(f"error: unknown command {command!r}\n{_USAGE}", file=sys.stderr)
    return 2
