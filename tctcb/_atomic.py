"""Atomic writes shared by every part of tctcb (imports nothing from tctcb): finished work is either
there completely or not at all, and a crash never leaves half a file or half a directory."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["write_text", "swap_dir"]


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def swap_dir(tmp: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the finished directory ``tmp`` at ``target`` (same file system), replacing any old one;
    the old directory is moved aside first and removed only once the new one is in place."""
    tmp, target = Path(tmp), Path(target)
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:  # put the old directory back rather than leave nothing
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
