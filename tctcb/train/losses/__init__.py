"""Training losses, one per module (each cites its paper and reports its settings with ``get_config_dict()``)."""
from tctcb.train.losses.distill_kl import DistillKLDivLoss
from tctcb.train.losses.in_batch_ce import InBatchCrossEntropyLoss

__all__ = ["DistillKLDivLoss", "InBatchCrossEntropyLoss"]
