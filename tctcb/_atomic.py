"""Atomic writes shared by every part of tctcb (imports nothing from tctcb): finished work is either
there completely or not at all, and a crash never leaves half a file or half a directory."""
from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_open", "write_text", "swap_dir", "tmp_dir", "remove_stale", "pid_alive"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file ``.NAME.tmp-PID`` beside ``path`` for writing; when the block ends without an error
    it is flushed to disk and renamed to ``path``, otherwise removed. Leftovers of killed writers are removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder, then rename it."""
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


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


def remove_stale(target: str | os.PathLike) -> None:
    """Remove ``.NAME.tmp-PID[-...]`` beside ``target`` -- the temporary files and folders of writers of
    ``target`` that were killed: their process is gone. A live process's are never touched."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    pattern = re.compile(re.escape(f".{target.name}.tmp-") + r"(\d+)(-.*)?")
    for sib in target.parent.glob(f".{glob.escape(target.name)}.tmp-*"):
        m = pattern.fullmatch(sib.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            if sib.is_dir() and not sib.is_symlink():
                shutil.rmtree(sib, ignore_errors=True)
            else:
                sib.unlink(missing_ok=True)


def tmp_dir(target: str | os.PathLike) -> Path:
    """A new empty folder ``.NAME.tmp-PID-XXXX`` beside ``target``, to be filled and then put in place with
    :func:`swap_dir` (and removed on failure). Leftovers of killed runs -- siblings of the same name whose
    process is gone -- are removed first; a live process's folder is never touched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; what it becomes is shared like any other folder
    return tmp

