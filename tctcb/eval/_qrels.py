"""Qrels by name (registered topic sets) or file, through tctcb.data's readers."""
from __future__ import annotations

import os

__all__ = ["load_qrels"]


def load_qrels(spec: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Qrels from a file (TREC / MS MARCO 4 columns, or BEIR ``query-id corpus-id score`` TSV) or a registered
    topic set name, built-in or user dataset (``tctcb.data.get_qrels``): a value that exists on disk is a file."""
    from tctcb import data

    spec = str(spec)
    if os.path.isfile(spec):
        return data.read_qrels(spec)
    if os.sep in spec or spec.endswith((".txt", ".tsv", ".qrels")):
        raise FileNotFoundError(f"qrels file {spec} not found")
    return data.get_qrels(spec)
