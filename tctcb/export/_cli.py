"""``python -m tctcb.export``: write a model in another format.

    python -m tctcb.export --model DIR --format onnx --output OUT [--quantize int8]
    python -m tctcb.export --model DIR --format sentence-transformers --output OUT
    python -m tctcb.export --model TEACHER_DIR --format pylate --output OUT

Formats are looked up in :data:`FORMATS` (name -> writer), so a new one is one entry there.
"""
from __future__ import annotations

import argparse

from tctcb._command import ArgumentParser, command

__all__ = ["main", "build_parser", "FORMATS"]


def _onnx(args) -> None:
    from tctcb.export._onnx import export_onnx

    export_onnx(args.model, args.output, pooling=args.pooling, quantize=args.quantize, overwrite=args.overwrite,
                progress=not args.quiet)


def _sentence_transformers(args) -> None:
    from tctcb.export._common import ExportError
    from tctcb.export._st import export_sentence_transformers

    if args.quantize:
        raise ExportError("--quantize applies to --format onnx")
    export_sentence_transformers(args.model, args.output, pooling=args.pooling, overwrite=args.overwrite,
                                 progress=not args.quiet)


def _pylate(args) -> None:
    from tctcb.export._common import ExportError, source_model, writing
    from tctcb.models import ColBERT

    if args.quantize or args.pooling:
        raise ExportError("--quantize and --pooling apply to the encoder formats (onnx, sentence-transformers), "
                          "not to --format pylate")
    path = source_model(args.model)
    if path.is_dir() and ColBERT.layout_of(path) is None:
        raise ExportError(f"--model {args.model}: not a ColBERT teacher checkpoint (a TCT-ColBERT student or a backbone "
                          f"gives one vector per text; --format pylate writes a teacher's token vectors): export "
                          f"encoders with --format onnx or sentence-transformers")
    model = ColBERT.from_pretrained(path)
    with writing(args.output, args.overwrite) as tmp:
        model.save_pretrained(tmp, layout="pylate")  # refuses, saying why, a teacher PyLate would score differently


#: format name -> (writer taking the parsed arguments, one line of help)
FORMATS = {
    "onnx": (_onnx, "a query and a document graph (fp32, or int8 with --quantize int8) plus the tokenizer, "
                    "for python -m tctcb.encode / tctcb.search with --backend onnx"),
    "sentence-transformers": (_sentence_transformers, "a sentence-transformers folder (st-pooled models only)"),
    "pylate": (_pylate, "a ColBERT teacher as PyLate's ColBERT folder (teachers with marker tokens: loaded from the "
                        "ColBERT repo or PyLate, or built with ColBERTConfig(marker_token=True))"),
}


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m tctcb.export", description="Export an encoder: "
                       + "; ".join(f"{name}: {what}" for name, (_, what) in FORMATS.items()) + ".")
    p.add_argument("--model", required=True, help="model folder (a TCT-ColBERT student, a sentence-transformers "
                   "folder; a ColBERT teacher for --format pylate) or a named backbone such as all-mpnet-base-v2")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="what to write")
    p.add_argument("--output", required=True, help="folder to write (atomically; must be new or empty)")
    p.add_argument("--pooling", choices=("tct", "mean", "st"), default=None,
                   help="the model's format: tct, or mean (= st: sentence-transformers' mean pooling, normalised); "
                        "default: as tctcb.encode decides (mean for a sentence-transformers folder, else tct)")
    p.add_argument("--quantize", choices=("int8",), default=None,
                   help="onnx: int8 dynamic quantisation (onnxruntime) of the graphs: faster on CPUs, approximate")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


@command
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    FORMATS[args.format][0](args)  # user mistakes raise UserError: one line, exit 2 (see tctcb._command)
    return 0
