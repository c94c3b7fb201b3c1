"""Where the data lives: the read-only data directory, the cache for derived files, and DataError.

``data_dir()`` is ``$TCTCB_DATA`` (or an explicit ``data_dir=``); ``cache_dir()`` is ``$TCTCB_CACHE``,
default ``~/.cache/tctcb``. Nothing here touches the disk at import time.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "TCTCB_DATA"
CACHE_ENV = "TCTCB_CACHE"


class DataError(Exception):
    """Bad or missing data: the message names the file (and line) or the variable to set."""


def data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$TCTCB_DATA``."""
    if data_dir is not None:
        d = Path(data_dir)
    else:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise DataError(
                f"no data directory: set {DATA_ENV} (or pass --data-dir) to the folder holding adi/, cacm/, nfcorpus/, ..."
            )
        d = Path(env)
    if not d.is_dir():
        raise DataError(f"data directory {d} does not exist: set {DATA_ENV} (or pass --data-dir) to the right folder")
    return d


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache for derived files: ``cache_dir`` if given, else ``$TCTCB_CACHE``, else ``~/.cache/tctcb``.
    Not created here; writers create what they need."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "tctcb"


def require_file(path: Path) -> Path:
    """``path`` if it is a file, else a DataError naming it and the way to point at another data directory."""
    if not path.is_file():
        raise DataError(f"missing data file {path}: set {DATA_ENV} (or pass --data-dir) to the folder that holds it")
    return path
