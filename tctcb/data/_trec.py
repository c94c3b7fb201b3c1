"""TREC-style topics and qrels.

Topics come tab-separated (``qid<TAB>text``, as MS MARCO / Anserini's ``topics.*.tsv``), as JSON lines
(BEIR's ``queries.jsonl``), or in SGML: TREC ``<top> <num> <title>`` blocks, or CACM's ``<DOC> <DOCNO> n </DOCNO> text </DOC>``
blocks. Qrels are ``qid iter docid grade`` (whitespace separated).
"""
from __future__ import annotations

import re

from ._archive import Source, iter_lines, read_text, source_name
from ._paths import DataError


def read_topics(src: Source) -> dict[str, str]:
    """``qid -> text`` in file order; the format (TSV or SGML) is sniffed from the first non-blank line."""
    text = read_text(src)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("<"):
        return _read_sgml_topics(text, source_name(src))
    if first.lstrip().startswith("{"):
        return _read_jsonl_topics(src)
    return _read_tsv_topics(src)


_ID_KEYS, _TEXT_KEYS = ("_id", "qid", "query_id", "id"), ("text", "query", "title")


def _read_jsonl_topics(src: Source) -> dict[str, str]:
    """BEIR ``queries.jsonl`` (``{"_id","text"}``) and the like (``qid``/``query_id``/``id``, ``query``/``title``)."""
    from ._jsonl import iter_json_objects

    topics: dict[str, str] = {}
    for n, obj in iter_json_objects(src):
        qid = next((obj[k] for k in _ID_KEYS if k in obj), None)
        text = next((obj[k] for k in _TEXT_KEYS if k in obj), None)
        if qid is None or not isinstance(text, str):
            raise DataError(f"{source_name(src)}, line {n}: a JSON query needs an id ({'/'.join(_ID_KEYS)}) and a "
                            f"text ({'/'.join(_TEXT_KEYS)}); keys: {sorted(obj)[:8]}")
        topics[str(qid)] = text
    return topics


def _read_tsv_topics(src: Source) -> dict[str, str]:
    topics: dict[str, str] = {}
    for n, line in iter_lines(src):
        if not line.strip():
            continue
        qid, sep, query = line.partition("\t")
        if not sep or not qid.strip():
            raise DataError(f"{source_name(src)}, line {n}: expected 'qid<TAB>query'")
        topics[qid.strip()] = query.strip()
    return topics


_CACM_DOC = re.compile(r"<DOC>\s*<DOCNO>\s*(.*?)\s*</DOCNO>(.*?)</DOC>", re.S | re.I)
_TREC_TOP = re.compile(r"<top>(.*?)</top>", re.S | re.I)
_NUM = re.compile(r"<num>\s*(?:Number:)?\s*([^\s<]+)", re.I)
_TITLE = re.compile(r"<title>\s*(?:Topic:)?(.*?)(?=</?\w+>|$)", re.S | re.I)


def _read_sgml_topics(text: str, name: str) -> dict[str, str]:
    topics: dict[str, str] = {}
    if _CACM_DOC.search(text):
        for m in _CACM_DOC.finditer(text):
            topics[m.group(1)] = " ".join(m.group(2).split())
        return topics
    for m in _TREC_TOP.finditer(text):
        block = m.group(1)
        num, title = _NUM.search(block), _TITLE.search(block)
        if not num or not title:
            raise DataError(f"{name}: a <top> block without <num> or <title>: {block[:80]!r}")
        topics[num.group(1)] = " ".join(title.group(1).split())
    if not topics:
        raise DataError(f"{name}: no topics found (expected 'qid<TAB>text' lines, <top> or <DOC><DOCNO> blocks)")
    return topics


def read_trec_qrels(src: Source) -> dict[str, dict[str, int]]:
    """``qid -> {docid: grade}`` from TREC qrels lines ``qid iter docid grade``."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in iter_lines(src):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DataError(f"{source_name(src)}, line {n}: expected TREC qrels 'qid iter docid grade', "
                            f"got {len(parts)} fields")
        try:
            grade = int(parts[3])
        except ValueError:
            raise DataError(f"{source_name(src)}, line {n}: grade {parts[3]!r} is not an integer") from None
        qrels.setdefault(parts[0], {})[parts[2]] = grade
    return qrels


def read_qrels(src: Source) -> dict[str, dict[str, int]]:
    """Qrels in TREC (``qid iter docid grade``) or BEIR TSV (``query-id corpus-id score`` header) format,
    sniffed from the first non-blank line; anything else is a DataError."""
    from ._beir import read_beir_qrels

    for _, line in iter_lines(src):
        if not line.strip():
            continue
        fields = line.split()
        if fields[:2] == ["query-id", "corpus-id"] or (len(line.split("\t")) == 3 and len(fields) == 3):
            return read_beir_qrels(src)
        if len(fields) == 4:
            return read_trec_qrels(src)
        raise DataError(f"{source_name(src)}: unknown qrels format (first line {line[:60]!r}); expected TREC "
                        "'qid iter docid grade' or BEIR 'query-id<TAB>corpus-id<TAB>score'")
    raise DataError(f"{source_name(src)}: empty qrels file")
