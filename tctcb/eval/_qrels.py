"""Qrels by name (registered topic sets) or file, through tctcb.data's readers."""
from __future__ import annotations

import os

__all__ = ["load_qrels"]


def load_qrels(spec: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Qrels from a TREC qrels file path or a registered name (``tctcb.data.get_qrels``)."""
    from tctcb import data

    spec = str(spec)
    if os.path.isfile(spec):
        return data.read_trec_qrels(spec)
    if os.sep in spec or spec.endswith(".txt"):
        raise FileNotFoundError(f"qrels file {spec} not found")
    return data.get_qrels(spec)
