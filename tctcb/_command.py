"""What every ``python -m tctcb.*`` command shares (imports nothing from tctcb): the one error policy.

- :class:`UserError` is the base of every error a user can cause and fix (a bad file, missing data, a
  wrong number); each package's own error class derives from it. :func:`command` turns one into a single
  ``error:`` line and exit status 2, an ``OSError`` (a missing or unwritable path, a full disk) likewise,
  Ctrl-C into one line and 130. Anything else is a bug and keeps its traceback.
- :class:`ArgumentParser` reports a bad argument as one ``error:`` line (argparse prints the usage too).
- :func:`number` is the ``type=`` of every numeric option: it refuses ``nan``, ``inf`` and values out of
  range where the option is parsed, so no command computes (or writes) a non-finite score from one.
"""
from __future__ import annotations

import argparse
import functools
import math
import os
import sys

__all__ = ["UserError", "ArgumentParser", "command", "number", "check_number"]


class UserError(Exception):
    """A mistake the user can fix; the message names the file and line, or the argument."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's error line: ``error: MESSAGE (see PROG --help)``, exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def check_number(value, name: str, *, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False):
    """``value`` if it is finite and within the bounds, else a :class:`UserError` naming ``name``."""
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {value}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise UserError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise UserError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value}")
    return value


def number(kind=float, *, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False):
    """An argparse ``type=``: ``kind`` (int or float) parsed, finite, within the bounds (open or closed)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        try:
            return check_number(value, "it", lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e)[len("it "):]) from None

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _os_message(e: OSError) -> str:
    what = e.strerror or str(e)
    if e.filename is not None:
        return f"{e.filename}: {what}" + (f" (-> {e.filename2})" if e.filename2 else "")
    return what


def command(main):
    """Decorate a command's ``main(argv) -> int`` with the error policy (see the module's docstring)."""

    @functools.wraps(main)
    def run(argv=None) -> int:
        try:
            return main(argv)
        except SystemExit as e:  # argparse's --help (0) and its error line (2): returned, like every other outcome
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        except KeyboardInterrupt:
            print("error: interrupted (finished work is kept; rerun the same command to go on)", file=sys.stderr)
            return 130
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # `... | head`: the reader left; say nothing
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            return 141
        except OSError as e:
            print(f"error: {_os_message(e)}", file=sys.stderr)
            return 2

    return run

