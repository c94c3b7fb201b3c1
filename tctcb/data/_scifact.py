"""SciFact's original release as CSV (Hugging Face ``allenai/scifact`` exported: ``scifact.zip`` with
``corpus_train.csv``, ``claims_train.csv``, ``claims_validation.csv``, ``claims_test.csv``), rebuilt into
the BEIR SciFact retrieval benchmark:

- corpus: every row of ``corpus_train.csv``; docid = ``doc_id``; title; text = the abstract sentences
  joined by single spaces (the ``abstract`` column is a printed numpy array of Python string literals,
  ``['s1'\\n 's2' ...]``, separated by whitespace, not commas);
- topics/qrels ``train`` = ``claims_train.csv``, ``test`` = ``claims_validation.csv`` (BEIR's test set):
  one query per distinct claim id (first-appearance order), judgements = every (claim id, cited doc id)
  pair with grade 1. ``claims_test.csv`` has no labels and is not used.
"""
from __future__ import annotations

import ast
import csv
import re
from typing import Iterator

from ._archive import Source, open_text, source_name
from ._paths import DataError
from ._records import Document

_STRING = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""", re.S)
_IDS = re.compile(r"\d+")


def parse_sentence_list(printed: str) -> list[str]:
    """Sentences of a printed numpy/Python list of strings, e.g. ``"['A b.'\\n 'C d.']"`` -> ``['A b.', 'C d.']``."""
    s = printed.strip()
    if not (s.startswith("[") and s.endswith("]")):
        raise ValueError(f"not a printed list: {s[:40]!r}")
    inner = s[1:-1]
    out, pos = [], 0
    for m in _STRING.finditer(inner):
        gap = inner[pos:m.start()]
        if gap.strip(" \t\r\n,"):
            raise ValueError(f"unexpected text between list items: {gap.strip()[:40]!r}")
        out.append(ast.literal_eval(m.group(0)))
        pos = m.end()
    if inner[pos:].strip(" \t\r\n,"):
        raise ValueError(f"unexpected text after the last item: {inner[pos:].strip()[:40]!r}")
    return out


def _rows(src: Source) -> Iterator[tuple[int, dict[str, str]]]:
    with open_text(src, newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            yield reader.line_num, row


def read_scifact_corpus(src: Source) -> Iterator[Document]:
    """Documents of ``corpus_train.csv`` in file order (title; text = abstract sentences joined)."""
    for n, row in _rows(src):
        try:
            sentences = parse_sentence_list(row["abstract"])
            docid = str(int(row["doc_id"]))
        except (KeyError, ValueError, SyntaxError, TypeError) as e:
            raise DataError(f"{source_name(src)}, line {n}: bad corpus row ({e})") from None
        yield Document(docid, row["title"].strip(), " ".join(s.strip() for s in sentences))


def read_scifact_claims(src: Source) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """``(topics, qrels)`` from a claims CSV: claim id -> claim text (first-appearance order) and
    claim id -> {cited doc id: 1}."""
    topics: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for n, row in _rows(src):
        try:
            qid = str(int(row["id"]))
            cited = _IDS.findall(row["cited_doc_ids"])
            claim = row["claim"].strip()
        except (KeyError, ValueError, AttributeError) as e:
            raise DataError(f"{source_name(src)}, line {n}: bad claims row ({e})") from None
        topics.setdefault(qid, claim)
        for d in cited:
            qrels.setdefault(qid, {})[d] = 1
    return topics, qrels
