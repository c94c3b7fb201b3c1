"""sentence-transformers export: a folder ``SentenceTransformer(OUT)`` loads and encodes exactly as tctcb does.

Only for sentence-transformers-pooled models (``st``: ``[CLS] text [SEP]``, mean over the attended tokens,
L2-normalised), which that format expresses as Transformer -> Pooling (mean) -> Normalize.  A TCT-ColBERT model
(``tct``) is refused: its queries are ``[CLS] [Q] q`` padded with ``[MASK]`` to 36 tokens and pooled after the
four marker tokens, an input format sentence-transformers' modules cannot express.
"""
from __future__ import annotations

import json
import sys

from ._common import ExportError, encoder_source, model_pooling, writing

__all__ = ["export_sentence_transformers", "ST_MODULES"]

ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def _write_json(path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def export_sentence_transformers(model, output, *, pooling: str | None = None, overwrite: bool = False,
                                 progress: bool = True):
    """Write ``model`` (``st`` pooling) as a sentence-transformers folder ``output``; return its path."""
    from tctcb import __version__
    from tctcb.encode import st_max_length
    from tctcb.models import ENCODER_FAMILY, load_backbone

    src = encoder_source(model)
    pooling = model_pooling(src, pooling)
    if pooling != "st":
        raise ExportError(f"--model {model} is a TCT-ColBERT model (queries '[CLS] [Q] q' padded with [MASK] to 36 "
                          "tokens, pooled after 4 marker tokens), which sentence-transformers cannot express: "
                          "use --format onnx instead (or the folder itself in Pyserini's TctColBert encoders)")
    backbone, tokenizer = load_backbone(src, families=ENCODER_FAMILY)
    with writing(output, overwrite) as tmp:
        backbone.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        _write_json(tmp / "modules.json", ST_MODULES)
        _write_json(tmp / "sentence_bert_config.json", {"max_seq_length": st_max_length(src), "do_lower_case": False})
        (tmp / "1_Pooling").mkdir()
        _write_json(tmp / "1_Pooling" / "config.json", {
            "word_embedding_dimension": int(backbone.config.hidden_size), "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False, "include_prompt": True})
        (tmp / "2_Normalize").mkdir()
        _write_json(tmp / "config_sentence_transformers.json",
                    {"similarity_fn_name": "cosine", "prompts": {}, "default_prompt_name": None,
                     "__version__": {"tctcb": __version__}})
    if progress:
        print(f"{output}: sentence-transformers folder of {src} (mean pooling, normalised, max_seq_length "
              f"{st_max_length(src)})", file=sys.stderr)
    return output
