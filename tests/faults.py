"""Run a ``tctcb`` command with a fault injected at a fixed point (test scaffolding, not installed).

    python tests/faults.py --at MODULE:NAME --call N [--after] [--signal KILL|INT] -- tctcb.encode ARGS ...

wraps the function ``NAME`` of ``MODULE`` (``Class.method`` allowed) so that its ``N``-th call sends the
signal to this process -- before the call runs, or after it returned with ``--after`` -- then runs
``python -m tctcb.encode ARGS ...`` in this process. SIGKILL ends the process on the spot (nothing is
cleaned up, as after a power cut or the OOM killer); SIGINT is Ctrl-C.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import os
import runpy
import signal
import sys


def inject(target: str, call: int, after: bool, sig: int, delay: float = 0.0) -> None:
    module_name, _, qualname = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    count = 0

    @functools.wraps(original)
    def wrapped(*args, **kwargs):
        nonlocal count
        count += 1
        if count == call and not after:
            if delay:  # from another thread, while the call runs (e.g. inside Java)
                import threading

                threading.Timer(delay, os.kill, (os.getpid(), sig)).start()
            else:
                os.kill(os.getpid(), sig)
        result = original(*args, **kwargs)
        if count == call and after:
            os.kill(os.getpid(), sig)
        return result

    setattr(owner, name, staticmethod(wrapped) if isinstance(owner.__dict__.get(name), staticmethod) else wrapped)


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--at", required=True)
    p.add_argument("--call", type=int, required=True)
    p.add_argument("--after", action="store_true")
    p.add_argument("--signal", choices=("KILL", "INT"), default="KILL")
    p.add_argument("--delay", type=float, default=0.0, help="send it this many seconds into the call")
    args = p.parse_args(argv[:split])
    command, *rest = argv[split + 1:]
    inject(args.at, args.call, args.after, getattr(signal, f"SIG{args.signal}"), args.delay)
    # a shell starts background jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt handler:
    # Ctrl-C must behave as it does at a terminal however the test run was started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = [command, *rest]
    runpy.run_module(command, run_name="__main__", alter_sys=True)


def run_with_fault(command: str, args: list[str], at: str, call: int, *, after: bool = False, sig: str = "KILL",
                   delay: float = 0.0, env: dict | None = None, timeout: float = 600):
    """``python tests/faults.py ...`` as a subprocess; returns its CompletedProcess (text)."""
    import subprocess

    cmd = [sys.executable, __file__, "--at", at, "--call", str(call), "--signal", sig, "--delay", str(delay), *(["--after"] if after else []),
           "--", command, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout)


def run_command(command: str, args: list[str], env: dict | None = None, timeout: float = 600):
    """``python -m COMMAND ARGS`` as a subprocess, no fault; returns its CompletedProcess (text)."""
    import subprocess

    return subprocess.run([sys.executable, "-m", command, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


if __name__ == "__main__":
    main()
