"""The Glasgow SMART-format test collections: ADI and Cranfield.

Records start with ``.I n`` and have field markers on lines of their own (``.T`` title, ``.A`` author,
``.B`` bibliography, ``.W`` text). Files may use CRLF line ends (ADI, cran.qry); both are read alike.
Parsing rules for the known irregularities:

- ``.W`` is the last field of a record: after it, everything up to the next ``.I`` is text, and stray
  marker lines are dropped (Cranfield doc 240 has ``.A``/``.B`` lines inside its abstract, docs 576 and
  578 a second ``.W``);
- before ``.W`` a repeated field is appended, unless it repeats the same words (ADI doc 67 has its
  title twice).

Cranfield queries are renumbered: the ``.I`` numbers in ``cran.qry`` run 001, 002, 004, ..., 365, while
``cranqrel`` numbers the queries 1..225 in file order, so the k-th query gets qid ``str(k)``.

Cranfield relevance codes (Cleverdon): 1 = complete answer ... 4 = minimum interest, smaller = more
relevant, plus one ``-1`` per query, which marks the document the question was written from (e.g.
query 1, "similarity laws ... aeroelastic models of heated high speed aircraft" -> doc 486
"similarity laws for aerothermoelastic testing"). Gains: ``gain = 5 - code`` for codes 1..4 (4, 3, 2, 1)
and ``-1 -> 5`` (at least as relevant as a complete answer). ``cranfield_gain`` is that mapping.
ADI judgements are binary: each listed pair gets grade 1.
"""
from __future__ import annotations

from typing import Iterator

from ._archive import Source, iter_lines, source_name
from ._paths import DataError
from ._records import Document, Query

_MARKERS = {".T", ".A", ".B", ".W", ".K", ".N", ".X", ".C"}


def read_smart_records(src: Source) -> Iterator[tuple[str, dict[str, str]]]:
    """``(.I number as written, {field marker: whitespace-normalised text})`` per record, file order."""
    rid: str | None = None
    fields: dict[str, list[str]] = {}
    current: str | None = None

    def finish():
        out = {}
        for k, parts in fields.items():
            out[k] = " ".join(" ".join(parts).split())
        return rid, out

    for n, line in iter_lines(src, encoding="latin-1"):
        head = line.strip()
        if head.startswith(".I ") or head == ".I":
            if rid is not None:
                yield finish()
            rid = head[2:].strip()
            if not rid:
                raise DataError(f"{source_name(src)}, line {n}: '.I' without a number")
            fields, current = {}, None
            continue
        if rid is None:
            if head:
                raise DataError(f"{source_name(src)}, line {n}: text before the first '.I' record")
            continue
        if head[:2] in _MARKERS and head[2:3] in ("", " "):
            marker = head[:2]
            if current == ".W":  # .W is last: stray markers inside the text are dropped
                rest = head[2:].strip()
                if rest:
                    fields[".W"].append(rest)
                continue
            current = marker
            if marker in fields:  # repeated field: append unless it is a plain repetition
                fields[marker].append("\x00")
            else:
                fields[marker] = []
            rest = head[2:].strip()
            if rest:
                fields[marker].append(rest)
            continue
        if current is None:
            if head:
                raise DataError(f"{source_name(src)}, line {n}: text before any field marker in record {rid}")
            continue
        fields[current].append(line)
    if rid is not None:
        yield finish()


def _dedupe_repeats(value: str) -> str:
    """Join the parts of a repeated field (separated by NUL), dropping parts that repeat earlier words."""
    seen: list[str] = []
    for part in value.split("\x00"):
        part = " ".join(part.split())
        if part and part not in seen:
            seen.append(part)
    return " ".join(seen)


def read_smart_docs(src: Source) -> Iterator[Document]:
    """Documents of a SMART ``.ALL`` file: docid = the ``.I`` number without leading zeros, title ``.T``,
    text ``.W`` (authors and bibliography are not part of the text)."""
    for rid, f in read_smart_records(src):
        yield Document(str(int(rid)), _dedupe_repeats(f.get(".T", "")), _dedupe_repeats(f.get(".W", "")))


def read_smart_queries(src: Source, renumber: bool = False) -> Iterator[Query]:
    """Queries of a SMART ``.QRY`` file: qid = the ``.I`` number, or with ``renumber`` the position 1, 2, ...
    (Cranfield)."""
    for k, (rid, f) in enumerate(read_smart_records(src), 1):
        yield Query(str(k) if renumber else str(int(rid)), _dedupe_repeats(f.get(".W", "")))


def cranfield_gain(code: int) -> int:
    """Gain of a Cranfield relevance code: 5 - code for 1..4, 5 for -1 (the question's source document)."""
    if code == -1:
        return 5
    if 1 <= code <= 4:
        return 5 - code
    raise ValueError(f"unknown Cranfield relevance code {code}")


def read_smart_qrels(src: Source, graded: bool) -> dict[str, dict[str, int]]:
    """``qid -> {docid: grade}`` from a SMART qrels file. ``graded=False`` (ADI ``qid docid 0 0.000000``):
    every listed pair gets 1. ``graded=True`` (Cranfield ``qid docid code``): ``cranfield_gain(code)``."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in iter_lines(src, encoding="latin-1"):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < (3 if graded else 2):
            raise DataError(f"{source_name(src)}, line {n}: expected 'qid docid{' code' if graded else ' ...'}'")
        try:
            qid, docid = str(int(parts[0])), str(int(parts[1]))
            grade = cranfield_gain(int(parts[2])) if graded else 1
        except ValueError as e:
            raise DataError(f"{source_name(src)}, line {n}: {e}") from None
        qrels.setdefault(qid, {})[docid] = grade
    return qrels
