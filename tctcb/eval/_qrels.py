"""Qrels by name (registered topic sets) or file: ``tctcb.data.load_qrels``, the one name-or-file rule."""
from __future__ import annotations

from tctcb.data import load_qrels

__all__ = ["load_qrels"]
