"""Run files: TREC (``qid Q0 docid rank score tag``) and MS MARCO (``qid<TAB>docid<TAB>rank``).

A run in memory is ``dict[qid, dict[docid, score]]`` with ``str`` ids; within a query the dict is in
rank order when it comes from :func:`read_run`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

from tctcb._atomic import atomic_open
from tctcb._command import UserError
from tctcb.data import iter_lines

__all__ = ["RunFormatError", "read_run", "write_run", "sniff_run_format"]

Run = dict[str, dict[str, float]]


class RunFormatError(UserError, ValueError):
    """A run file that cannot be read; the message names the file and line."""


def _format_of(line: str) -> str | None:
    if "\t" in line and len(line.split("\t")) == 3:
        return "msmarco"
    parts = line.split()
    if len(parts) == 6:
        return "trec"
    if len(parts) == 3:
        return "msmarco"
    return None


def sniff_run_format(path: str | os.PathLike) -> str:
    """``"trec"`` or ``"msmarco"``, from the first non-empty line of ``path``."""
    path = Path(path)
    for lineno, line in iter_lines(path):
        line = line.strip()
        if not line:
            continue
        fmt = _format_of(line)
        if fmt is None:
            raise RunFormatError(
                f"{path}:{lineno}: not a run line (expected TREC 'qid Q0 docid rank score tag' "
                f"or MS MARCO 'qid<TAB>docid<TAB>rank'): {line[:80]!r}"
            )
        return fmt
    raise RunFormatError(f"{path}: empty run file (no run lines)")


def read_run(path: str | os.PathLike, format: str | None = None) -> Run:
    """Read a TREC or MS MARCO run file (format sniffed unless given).

    MS MARCO runs carry ranks only; a hit at rank ``r`` gets score ``1 / r`` so the order is kept.
    Raises :class:`RunFormatError` naming file and line for a malformed line, a duplicate
    (qid, docid) pair or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise RunFormatError(f"{path}: run file not found")
    fmt = format or sniff_run_format(path)
    if fmt not in ("trec", "msmarco"):
        raise ValueError(f"unknown run format {fmt!r} (use 'trec' or 'msmarco')")
    run: Run = {}
    for lineno, raw in iter_lines(path):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        where = f"{path}:{lineno}"
        if fmt == "trec":
            if len(parts) != 6:
                raise RunFormatError(f"{where}: expected 6 fields 'qid Q0 docid rank score tag', got {len(parts)}: {line[:80]!r}")
            qid, _, docid, rank, score, _ = parts
            try:
                int(rank)
                value = float(score)
            except ValueError:
                raise RunFormatError(f"{where}: rank must be an integer and score a number: {line[:80]!r}") from None
            if not math.isfinite(value):
                raise RunFormatError(f"{where}: score {score} is not a finite number")
        else:
            if len(parts) != 3:
                raise RunFormatError(f"{where}: expected 3 fields 'qid<TAB>docid<TAB>rank', got {len(parts)}: {line[:80]!r}")
            qid, docid, rank = parts
            try:
                r = int(rank)
            except ValueError:
                raise RunFormatError(f"{where}: rank must be an integer: {line[:80]!r}") from None
            if r < 1:
                raise RunFormatError(f"{where}: rank must be >= 1: {line[:80]!r}")
            value = 1.0 / r
        hits = run.setdefault(qid, {})
        if docid in hits:
            raise RunFormatError(f"{where}: document {docid} appears twice for query {qid}")
        hits[docid] = value
    if not run:
        raise RunFormatError(f"{path}: empty run file (no run lines)")
    return run


def _ranked(hits: Mapping[str, float]) -> list[tuple[str, float]]:
    # Stable: equal scores keep the order they came in.
    return sorted(((str(d), float(s)) for d, s in hits.items()), key=lambda x: -x[1])


def write_run(run: Mapping[str, Mapping[str, float]], path: str | os.PathLike, format: str = "trec",
              tag: str = "tctcb") -> Path:
    """Write ``run`` to ``path`` atomically (temporary file in the same folder, then rename).

    Hits are written by descending score (ties keep their input order), ranks from 1; TREC scores
    with 6 decimals as Pyserini writes them.
    """
    if format not in ("trec", "msmarco"):
        raise RunFormatError(f"unknown run format {format!r} (use 'trec' or 'msmarco')")
    if format == "trec" and (not tag or any(c.isspace() for c in tag)):
        raise RunFormatError(f"--run-tag must be one word, got {tag!r}")
    path = Path(path)
    with atomic_open(path) as f:
        for qid, hits in run.items():
            for rank, (docid, score) in enumerate(_ranked(hits), 1):
                if not math.isfinite(score):
                    raise RunFormatError(f"{path}: the score of document {docid} for query {qid} is {score}; a run "
                                         "with non-finite scores is not written")
                if format == "trec":
                    f.write(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")
                else:
                    f.write(f"{qid}\t{docid}\t{rank}\n")
    return path
