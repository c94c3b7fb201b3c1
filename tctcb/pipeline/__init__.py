"""The main job: run one regression end to end (train, encode, index, search, fuse, evaluate) and
report it as a table (system x metric), TREC run files and an effectiveness-vs-latency plot.

It sits on top, beside :mod:`tctcb.reproduce` (whose YAML it runs); nothing imports it.
"""
from tctcb.pipeline._report import SystemRow, format_table, plot_effectiveness, results_frame, write_markdown

__all__ = ["SystemRow", "format_table", "plot_effectiveness", "results_frame", "write_markdown"]
