"""Models: the ColBERT teacher and the TCT-ColBERT student (Hugging Face format checkpoints; the student's format,
``tct`` or ``mean``, recorded beside it)."""
from importlib import import_module

_WHERE = {
    "TctColBert": "._student",
    "QUERY_LENGTH": "._student",
    "DOC_MAX_LENGTH": "._student",
    "SKIP_TOKENS": "._student",
    "mean_pool": "._student",
    "normalized_mean_pool": "._student",
    "STUDENT_CONFIG": "._format",
    "STUDENT_FORMATS": "._format",
    "FORMAT_ALIASES": "._format",
    "StudentFormat": "._format",
    "StudentFormatError": "._format",
    "student_format": "._format",
    "canonical_format": "._format",
    "st_max_length": "._format",
    "query_strings": "._student",
    "passage_strings": "._student",
    "ColBERT": "._colbert",
    "ColBERTConfig": "._colbert",
    "ColBERTError": "._colbert",
    "maxsim": "._colbert",
    "maxsim_all": "._colbert",
    "pad_token_vectors": "._colbert",
    "PassageVectorCache": "._passage_cache",
    "load_backbone": "._backbone",
    "load_tokenizer": "._backbone",
    "resolve_backbone": "._backbone",
    "default_backbone_dir": "._backbone",
    "pick_device": "._backbone",
    "BackboneError": "._backbone",
    "BERT_FAMILY": "._backbone",
    "ENCODER_FAMILY": "._backbone",
    "NAMED_BACKBONES": "._named",
    "named_backbone": "._named",
    "interpolate_checkpoints": "._interpolate",
}
__all__ = list(_WHERE)


def __getattr__(name):  # lazy, so that importing tctcb.models loads no torch until needed
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
