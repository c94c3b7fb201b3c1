"""Atomic writes shared by every part of tctcb (imports nothing from tctcb): finished work is either
there completely or not at all, and a crash never leaves half a file or half a directory."""
from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["write_text", "swap_dir", "tmp_dir", "pid_alive"]


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


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (another user's counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tmp_dir(target: str | os.PathLike) -> Path:
    """A new empty folder ``.NAME.tmp-PID-XXXX`` beside ``target``, to be filled and then put in place with
    :func:`swap_dir` (and removed on failure). Leftovers of killed runs -- siblings of the same name whose
    process is gone -- are removed first; a live process's folder is never touched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stale = re.compile(re.escape(f".{target.name}.tmp-") + r"(\d+)-")
    for sib in target.parent.glob(f".{glob.escape(target.name)}.tmp-*"):
        m = stale.match(sib.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            if sib.is_dir() and not sib.is_symlink():
                shutil.rmtree(sib, ignore_errors=True)
            else:
                sib.unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; what it becomes is shared like any other folder
    return tmp

