"""Training: the ColBERT teacher and tightly-coupled distillation of the TCT-ColBERT student.

``python -m tctcb.train teacher|distill|interpolate ...``; in Python ``run(TeacherConfig(...))`` /
``run(DistillConfig(...))``, and ``tctcb.models.interpolate_checkpoints`` for WiSE-FT.
Importing this package loads no model.
"""
from tctcb.train._config import DistillConfig, TeacherConfig, TrainConfig
from tctcb.train._data import Example, TrainingData, TrainingDataError
from tctcb.train._steps import kd_candidates, precompute_teacher_scores, teacher_scores
from tctcb.train._trainer import Trainer, TrainingError
from tctcb.train.losses import DistillKLDivLoss, InBatchCrossEntropyLoss


def run(cfg, log=None):
    """Train as ``cfg`` says (see :mod:`tctcb.train._cli`)."""
    from tctcb.train._cli import run as _run

    return _run(cfg, log)


def main(argv=None):
    from tctcb.train._cli import main as _main

    return _main(argv)


__all__ = ["DistillConfig", "TeacherConfig", "TrainConfig", "Example", "TrainingData", "TrainingDataError", "Trainer",
           "TrainingError", "DistillKLDivLoss", "InBatchCrossEntropyLoss", "kd_candidates", "teacher_scores",
           "precompute_teacher_scores", "run", "main"]
