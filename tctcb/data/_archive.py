"""Reading text out of plain files and out of archive members (zip, tar.gz) without unpacking them.

A *source* is a path, or a ``(archive path, member name)`` pair. ``source_name`` gives the name used in
error messages: ``path`` or ``archive!member``.
"""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Union

from ._paths import DataError, require_file

Source = Union[str, os.PathLike, tuple]

#: what a truncated or corrupt archive raises while it is read
READ_ERRORS = (EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError)


def source_name(src: Source) -> str:
    if isinstance(src, tuple):
        return f"{src[0]}!{src[1]}"
    return str(src)


@contextmanager
def open_binary(src: Source) -> Iterator[IO[bytes]]:
    """Open a plain file or an archive member for reading bytes."""
    if not isinstance(src, tuple):
        with open(require_file(Path(src)), "rb") as f:
            yield f
        return
    archive, member = Path(src[0]), src[1]
    require_file(archive)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            try:
                f = z.open(member)
            except KeyError:
                raise DataError(f"{archive} has no member {member!r}") from None
            with f:
                yield f
        return
    try:
        with tarfile.open(archive) as t:
            try:
                f = t.extractfile(member)
            except KeyError:
                f = None
            if f is None:
                raise DataError(f"{archive} has no member {member!r}")
            with f:
                yield f
    except (EOFError, zlib.error, tarfile.TarError) as e:
        raise DataError(f"{archive}: not a readable zip or tar archive, or truncated ({e})") from None


@contextmanager
def open_text(src: Source, encoding: str = "utf-8", newline: str | None = None) -> Iterator[IO[str]]:
    """Text view of ``open_binary``; universal newlines by default, so CRLF files read like LF ones."""
    with open_binary(src) as b:
        yield io.TextIOWrapper(b, encoding=encoding, errors="strict", newline=newline)


def read_text(src: Source, encoding: str = "utf-8") -> str:
    with open_text(src, encoding=encoding) as f:
        try:
            return f.read()
        except UnicodeDecodeError as e:
            raise DataError(f"{source_name(src)}: not {encoding} text ({e})") from None
        except READ_ERRORS as e:
            raise DataError(f"{source_name(src)}: truncated or corrupt ({e})") from None


def iter_lines(src: Source, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """``(line number from 1, line without its end-of-line)`` for each line (CR LF or LF)."""
    with open_binary(src) as f:  # decoded line by line, so that a bad byte is reported on its own line
        n = 0
        try:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as e:
                    raise DataError(f"{source_name(src)}, line {n}: not {encoding} text ({e.reason} at byte "
                                    f"{e.start})") from None
                yield n, line.rstrip("\r\n")
        except READ_ERRORS as e:
            raise DataError(f"{source_name(src)}, after line {n}: truncated or corrupt ({e})") from None
