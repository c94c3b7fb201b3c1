"""The data package's view of the paths in :mod:`tctcb._paths` (one source), plus ``require_file``, which
knows the built-in catalogue and so names the download that brings a missing file."""
from __future__ import annotations

from pathlib import Path

from tctcb._paths import CACHE_ENV, DATA_ENV, DataError, cache_dir, data_dir, default_data_dir

__all__ = ["CACHE_ENV", "DATA_ENV", "DataError", "cache_dir", "data_dir", "default_data_dir", "require_file"]


def require_file(path: Path) -> Path:
    """``path`` if it is a file, else a DataError naming it and the way to point at another data directory."""
    if not path.is_file():
        from . import _catalog  # which built-in name brings this file (the one that brings the fewest files)

        entries = [(len(e["files"]), n) for table in (_catalog.COLLECTIONS, _catalog.TOPIC_SETS) for n, e in table.items()
                   if any(path.as_posix().endswith("/" + rel) for rel in e["files"])]
        names = [n for _, n in sorted(entries, key=lambda x: x[0])]
        raise DataError(
            f"missing data file {path}: run 'python -m tctcb.data download{' ' + names[0] if names else ''}' "
            f"or set {DATA_ENV} (or pass --data-dir) to the folder that holds it"
        )
    return path
