"""Download the built-in collections and topic sets listed in ``_catalog`` into the data directory.

Every file goes first to ``DATA/rel.part`` (resumed with an HTTP ``Range`` request when one is already
there), is checked against the catalog's size and md5, and only then renamed to its final path: a final
path never holds a partial or wrong file. Errors are one-line ``DataError``s that name the URL, the
expected md5 and the path where a user without network access can place the file by hand.
Standard library only (``urllib.request``); the ``urlopen`` argument lets tests use a fake or a local server.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from . import _catalog
from ._paths import DATA_ENV, DataError, default_data_dir

__all__ = ["download", "present", "catalog_files"]

TIMEOUT_S = 60
_CHUNK = 1 << 16


def catalog_files(name: str) -> list[str]:
    """The catalog files (paths under the data directory) behind ``name``: a collection's files plus its
    topic sets' files, a topic set's files, or both when ``name`` is a collection and a topic set (``cacm``)."""
    name = _catalog.ALIASES.get(name, name)
    coll, topics = _catalog.COLLECTIONS.get(name), _catalog.TOPIC_SETS.get(name)
    if coll is None and topics is None:
        known = sorted(set(_catalog.COLLECTIONS) | set(_catalog.TOPIC_SETS) | set(_catalog.ALIASES))
        raise DataError(f"unknown collection or topic set {name!r}; known: {', '.join(known)}")
    rels: list[str] = []
    if coll is not None:
        rels += coll["files"]
        for ts in coll.get("topic_sets", []):
            rels += _catalog.TOPIC_SETS[ts]["files"]
    if topics is not None:
        rels += topics["files"]
    return list(dict.fromkeys(rels))


def present(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether every file behind ``name`` is in the data directory with the catalog's size (md5 not checked:
    this is for a quick listing). False when there is no data directory yet."""
    root = _target_dir(data_dir)
    for rel in catalog_files(name):
        p = root / rel
        if not p.is_file() or p.stat().st_size != _catalog.FILES[rel]["bytes"]:
            return False
    return True


def download(names: list[str] | None = None, data_dir: str | os.PathLike | None = None,
             log: Callable[[str], object] = print, urlopen=None) -> list[Path]:
    """Fetch the files behind ``names`` (collections or topic sets; None or empty = the whole catalog) into
    ``data_dir`` (else ``$TCTCB_DATA``, else ``default_data_dir()``; created if missing). Files already
    there with the right size and md5 are kept (logged ``OK rel``). Returns the final paths, in order."""
    if names:
        rels = list(dict.fromkeys(rel for n in names for rel in catalog_files(n)))
    else:
        rels = list(_catalog.FILES)
    root = _target_dir(data_dir)
    opener = urlopen if urlopen is not None else urllib.request.urlopen
    out = []
    for rel in rels:
        entry = _catalog.FILES[rel]
        path = root / rel
        if path.is_file() and _matches(path, entry):
            log(f"OK {rel}")
        else:
            if path.exists():
                log(f"{rel}: size or md5 differs from the catalog; downloading it again")
            _fetch(entry, path, opener, log)
            log(f"OK {rel}")
        out.append(path)
    return out


def _target_dir(data_dir) -> Path:
    """The folder to download into: explicit, else ``$TCTCB_DATA``, else the default one."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else default_data_dir()


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _matches(path: Path, entry: dict) -> bool:
    return path.stat().st_size == entry["bytes"] and _md5(path) == entry["md5"]


def _by_hand(entry: dict, path: Path) -> str:
    msg = f"place the file at {path} by hand (md5 {entry['md5']})"
    if entry.get("see_also"):
        msg += f"; see also {entry['see_also']}"
    return msg


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        reason = f"HTTP {e.code} {e.reason}"
    elif isinstance(e, urllib.error.URLError):
        reason = str(e.reason)
    elif isinstance(e, TimeoutError):
        reason = "timed out"
    else:
        reason = str(e) or type(e).__name__
    return " ".join(reason.split())


def _fetch(entry: dict, path: Path, opener, log) -> None:
    """Download ``entry['url']`` into ``path.part`` (resuming it), check it, then rename it to ``path``."""
    url, size = entry["url"], entry["bytes"]
    part = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create {path.parent} ({_reason(e)}): set {DATA_ENV} to a writable folder") from None
    have = part.stat().st_size if part.is_file() else 0
    if have > size or (have == size and _md5(part) != entry["md5"]):
        part.unlink()  # longer than the file, or complete but wrong: nothing in it is worth keeping
        have = 0
    if have < size:
        have = _stream(url, part, have, size, opener, log, entry, path)
    digest = _md5(part)
    if have != size or digest != entry["md5"]:
        part.unlink(missing_ok=True)
        raise DataError(f"download of {url} gave {have:,} bytes with md5 {digest}, expected {size:,} bytes with "
                        f"md5 {entry['md5']}: {_by_hand(entry, path)}")
    os.replace(part, path)


def _stream(url, part: Path, have: int, size: int, opener, log, entry: dict, path: Path) -> int:
    """Append the rest of ``url`` to ``part`` (or rewrite it from 0 if the server ignores the range);
    returns the bytes in ``part``. Stops early once more than ``size`` bytes have arrived."""
    for attempt in (0, 1):
        headers = {"User-Agent": "tctcb-download", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        log(f"GET {url}" + (f" (resuming at {have:,} bytes)" if have else "") + f" -> {path}")
        try:
            resp = opener(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 416 and have and attempt == 0:  # the server refuses our range: start over
                part.unlink(missing_ok=True)
                have = 0
                continue
            raise DataError(f"cannot download {url} ({_reason(e)}): {_by_hand(entry, path)}") from None
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise DataError(f"cannot download {url} ({_reason(e)}): {_by_hand(entry, path)}") from None
        try:
            status = getattr(resp, "status", None) or resp.getcode()
            if have and status == 206 and not _range_starts_at(resp.headers.get("Content-Range"), have):
                if attempt == 0:  # a range we did not ask for: start over rather than splice wrong bytes
                    part.unlink(missing_ok=True)
                    have = 0
                    continue
                raise DataError(f"cannot download {url} (bad Content-Range): {_by_hand(entry, path)}")
            if status != 206:
                have = 0  # a full answer (200): rewrite the .part from the start
            return _copy(resp, url, part, have, size, entry, path)
        finally:
            resp.close()
    raise AssertionError("unreachable")


def _range_starts_at(content_range: str | None, start: int) -> bool:
    """Whether ``Content-Range: bytes START-END/TOTAL`` starts at ``start``."""
    try:
        unit, spec = (content_range or "").split(" ", 1)
        return unit == "bytes" and int(spec.split("-", 1)[0]) == start
    except ValueError:
        return False


def _copy(resp, url, part: Path, have: int, size: int, entry: dict, path: Path) -> int:
    """Write the body of ``resp`` to ``part`` (appending after ``have`` bytes); a body shorter than its
    Content-Length is a dropped connection (``read`` does not say so): a DataError that keeps the .part."""
    try:
        promised = int(resp.headers.get("Content-Length"))
    except (TypeError, ValueError):
        promised = None
    received = 0
    bar = _progress(size, have, path.name)
    try:
        try:
            f = open(part, "ab" if have else "wb")
        except OSError as e:
            raise DataError(f"cannot write {part} ({_reason(e)}): set {DATA_ENV} to a writable folder") from None
        with f:
            while have <= size:
                try:
                    chunk = resp.read(_CHUNK)
                except (OSError, http.client.HTTPException) as e:
                    # what arrived stays in the .part: the next run resumes from there
                    raise DataError(f"cannot download {url} ({_reason(e)}): {_by_hand(entry, path)}") from None
                if not chunk:
                    break
                try:
                    f.write(chunk)
                except OSError as e:
                    raise DataError(f"cannot write {part} ({_reason(e)})") from None
                have += len(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    if promised is not None and received < promised and have <= size:
        raise DataError(f"cannot download {url} (connection closed after {have:,} of {size:,} bytes; run again to "
                        f"resume): {_by_hand(entry, path)}")
    return have


def _progress(total: int, initial: int, desc: str):
    """A tqdm bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)
