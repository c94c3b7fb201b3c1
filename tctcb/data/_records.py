"""Record types: tiny dataclasses with ``str`` ids (as in ir_datasets and ir_measures)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One document. ``contents`` is Pyserini's BEIR "flat" text: ``title + " " + text``, stripped."""

    docid: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        if self.title:
            return f"{self.title} {self.text}".strip()
        return self.text.strip()


@dataclass(frozen=True)
class Query:
    """One query (topic): id and text."""

    qid: str
    text: str
