"""Where the data lives, shared by every part of tctcb (imports only ``tctcb._command``): the read-only data
directory, the cache for derived files, and DataError.

``data_dir()`` is an explicit ``data_dir=``, else ``$TCTCB_DATA``, else ``default_data_dir()`` (where
``python -m tctcb.data download`` puts the built-in collections) once it exists; ``cache_dir()`` is
``$TCTCB_CACHE``, default ``~/.cache/tctcb``. Nothing here touches the disk at import time.
"""
from __future__ import annotations

import os
from pathlib import Path

from tctcb._command import UserError

DATA_ENV = "TCTCB_DATA"
CACHE_ENV = "TCTCB_CACHE"


class DataError(UserError):
    """Bad or missing data: the message names the file (and line) or the variable to set."""


def default_data_dir() -> Path:
    """Where ``python -m tctcb.data download`` puts the built-in collections when ``$TCTCB_DATA`` is unset:
    ``$XDG_CACHE_HOME/tctcb/data``, else ``~/.cache/tctcb/data``. Not created here."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tctcb" / "data"


def data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$TCTCB_DATA``, else ``default_data_dir()`` if it
    exists. A folder named explicitly or by the variable must exist."""
    if data_dir is not None:
        d = Path(data_dir)
    else:
        env = os.environ.get(DATA_ENV)
        if not env:
            default = default_data_dir()
            if default.is_dir():
                return default
            raise DataError(
                f"no data directory: run 'python -m tctcb.data download' (into {default}) "
                f"or set {DATA_ENV} to the folder holding adi/, cacm/, nfcorpus/, ..."
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
