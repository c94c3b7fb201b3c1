"""Models: the ColBERT teacher and the TCT-ColBERT student (Hugging Face format checkpoints)."""
from importlib import import_module

__all__ = ["TctColBert", "ColBERT", "load_backbone", "default_backbone_dir", "interpolate_checkpoints", "pick_device"]

_WHERE = {
    "TctColBert": "._student",
    "ColBERT": "._colbert",
    "load_backbone": "._backbone",
    "default_backbone_dir": "._backbone",
    "pick_device": "._backbone",
    "interpolate_checkpoints": "._interpolate",
}


def __getattr__(name):  # lazy, so that importing tctcb.models loads no torch until needed
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
