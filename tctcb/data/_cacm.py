"""CACM as Anserini distributes it: ``cacm.tar.gz`` holding ``CACM-0001.html`` ... ``CACM-3204.html``,
one document per file (``<html><pre>`` title, abstract, date, authors, citation lines ``</pre></html>``).

docid = file stem (``CACM-1410``); title = the first non-blank line of the text; text = the rest,
whitespace-normalised. ``unpack_html`` writes the HTML files to a directory for Anserini's
``HtmlCollection`` (the published BM25 regression, MAP 0.3123, indexes those files).
"""
from __future__ import annotations

import os
import shutil
import tarfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from tctcb._atomic import tmp_dir
from ._archive import READ_ERRORS
from ._paths import DataError, require_file
from ._records import Document


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text content of an HTML page (tags dropped, entities decoded, line breaks kept)."""
    p = _TextExtractor()
    p.feed(html)
    p.close()
    return "".join(p.parts)


def _html_members(t: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    members = [m for m in t.getmembers() if m.isfile() and m.name.endswith(".html")]
    if not members:
        raise DataError(f"{archive}: no .html files inside")
    return members


def read_cacm_docs(archive: str | os.PathLike) -> Iterator[Document]:
    """Documents of ``cacm.tar.gz`` in archive order (CACM-0001 ... CACM-3204)."""
    archive = require_file(Path(archive))
    try:
        with tarfile.open(archive) as t:
            for m in _html_members(t, archive):
                f = t.extractfile(m)
                raw = f.read().decode("utf-8", errors="replace")
                lines = [" ".join(ln.split()) for ln in html_to_text(raw).splitlines()]
                lines = [ln for ln in lines if ln]
                title = lines[0] if lines else ""
                yield Document(Path(m.name).stem, title, " ".join(lines[1:]))
    except READ_ERRORS as e:
        raise DataError(f"{archive}: unreadable tar archive ({e})") from None


def unpack_html(archive: str | os.PathLike, directory: Path) -> Path:
    """Unpack the HTML files of ``cacm.tar.gz`` flat into ``directory`` (temporary name, then rename);
    reused when already complete."""
    archive = require_file(Path(archive))
    directory = Path(directory)
    if directory.is_dir() and any(directory.glob("*.html")):  # appears only by the rename below: complete
        return directory
    tmp = tmp_dir(directory)
    try:
        with tarfile.open(archive) as t:
            members = _html_members(t, archive)
            for m in members:
                src = t.extractfile(m)
                with open(tmp / Path(m.name).name, "wb") as out:
                    shutil.copyfileobj(src, out)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory
