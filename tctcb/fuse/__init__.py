"""Fusion of run files: ``python -m tctcb.fuse --runs A B [C ...] --output OUT``.

What ``pyserini.fusion`` does for Pyserini users, with this toolkit's rules: any number of runs,
reciprocal-rank fusion or weighted score fusion (a document missing from a run takes that run's
minimum, optionally min-max-centred per run — the TCT-ColBERT paper's hybrid rule), one weight per
run, ties broken by docid.  :func:`fuse_runs` is the in-memory form; :func:`tune_weights` chooses one
weight per run on dev runs and qrels (``--tune-weights-on``).
"""
from tctcb.fuse._fuse import fuse_runs
from tctcb.fuse._tune import WeightTuning, tune_weights

__all__ = ["WeightTuning", "fuse_runs", "tune_weights"]
