"""Results tables as text: a ``pandas.DataFrame`` (rows = systems, columns = metrics) to Markdown or aligned
plain text. The one place that formats a score table; no dependency on ``tabulate`` (``DataFrame.to_markdown``
needs it).
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

__all__ = ["to_markdown", "to_text"]

Format = str | Callable[[object], str]


def _missing(value) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and the like are values, not missing
        return False


def _cells(frame, floatfmt: str, formats: Mapping[str, Format] | None, missing: str,
           marks: Mapping[tuple[int, str], str] | None) -> tuple[list[str], list[list[str]], list[bool]]:
    """(header, body, right-aligned per column): numbers formatted, missing values as ``missing``."""
    import numbers

    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    formats = dict(formats or {})
    unknown = sorted(set(formats) - set(map(str, frame.columns)))
    if unknown:
        raise ValueError(f"formats for columns the frame lacks: {unknown} (columns: {list(map(str, frame.columns))})")
    head = [str(c) for c in frame.columns]
    right = [is_numeric_dtype(t) and not is_bool_dtype(t) for t in frame.dtypes]  # by position: names may repeat
    body = []
    for i, values in enumerate(frame.itertuples(index=False, name=None)):
        row = []
        for col, v in zip(head, values):
            fmt = formats.get(col)
            if _missing(v):
                text = missing
            elif callable(fmt):
                text = fmt(v)
            elif fmt is not None:
                text = format(v, fmt)
            elif isinstance(v, numbers.Integral) and not isinstance(v, bool):
                text = str(int(v))
            elif isinstance(v, numbers.Real) and not isinstance(v, bool):
                text = format(float(v), floatfmt)
            else:
                text = str(v)
            row.append(text + (marks or {}).get((i, col), ""))
        body.append(row)
    return head, body, right


def to_markdown(frame, *, floatfmt: str = ".4f", formats: Mapping[str, Format] | None = None, missing: str = "–",
                marks: Mapping[tuple[int, str], str] | None = None) -> str:
    """A GitHub Markdown table of ``frame``'s columns (its index is not shown: ``reset_index()`` to show it).

    Floats use ``floatfmt``, integers print as integers, ``formats`` gives a column its own format spec or
    function, missing values (NaN, None, NA) print as ``missing``; numeric columns are right-aligned.
    ``marks`` maps (row position, column) to a suffix, e.g. ``"*"`` for a score off its expected value.

    >>> import pandas as pd
    >>> print(to_markdown(pd.DataFrame({"name": ["bm25", "dense"], "nDCG@10": [0.32178, None]})), end="")
    | name | nDCG@10 |
    |---|---:|
    | bm25 | 0.3218 |
    | dense | – |
    """
    head, body, right = _cells(frame, floatfmt, formats, missing, marks)
    esc = lambda s: s.replace("|", "\\|")
    lines = ["| " + " | ".join(map(esc, head)) + " |", "|" + "".join("---:|" if r else "---|" for r in right)]
    lines += ["| " + " | ".join(map(esc, row)) + " |" for row in body]
    return "\n".join(lines) + "\n"


def to_text(frame, *, floatfmt: str = ".4f", formats: Mapping[str, Format] | None = None, missing: str = "-",
            marks: Mapping[tuple[int, str], str] | None = None, sep: str = "  ") -> str:
    """The same cells as :func:`to_markdown`, as an aligned plain-text table for a terminal (a dashed line under
    the header; numeric columns right-aligned). No trailing newline."""
    head, body, right = _cells(frame, floatfmt, formats, missing, marks)
    widths = [max(len(x) for x in col) for col in zip(head, *body)]

    def line(cells: Iterable[str]) -> str:
        return sep.join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([line(head), line("-" * w for w in widths), *map(line, body)])
