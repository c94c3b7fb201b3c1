"""ONNX export: the backbone and the encoder's pooling traced into one graph per pool, checked against PyTorch.

A TCT-ColBERT model gives ``query.onnx`` and ``document.onnx``; a sentence-transformers-pooled one gives
``encoder.onnx`` (its queries and documents are encoded alike).  Each graph maps ``input_ids`` and
``attention_mask`` (int64, batch and length dynamic) to the pooled vector, so its output is the encoder's
vector, and :class:`tctcb.encode`'s engine runs it in place of the PyTorch model (``tctcb.encode --backend
onnx``).  The folder also holds the tokenizer and ``tctcb-onnx.json`` (pooling, lengths, quantisation, source
model).  Exported with ``torch.onnx.export(dynamo=True)`` (needs ``onnxscript``); the legacy TorchScript exporter
bakes the example's attention mask into transformers' attention and is not used.  ``quantize="int8"``:
onnxruntime's dynamic quantisation (int8 weights, activations quantised per batch at run time) of every graph,
per channel: on all-MiniLM-L6-v2 and 48 NFCorpus passages the cosine to fp32 was 0.995 on average (min 0.992)
per channel, 0.950 (min 0.930) per tensor, 0.811 with ``reduce_range``.

Before the folder is put in place each graph is run by onnxruntime on a few inputs of varied batch size and
length and compared with the PyTorch encoder: fp32 must agree within 1e-4 (else the export fails), int8's
agreement (smallest cosine) is recorded.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._common import ExportError, encoder_source, model_pooling, writing

__all__ = ["export_onnx", "QUANTIZE", "FP32_TOLERANCE"]

QUANTIZE = ("int8",)
QUANTIZE_OPTIONS = {"int8": {"weight_type": "QInt8", "per_channel": True}}  # onnxruntime's quantize_dynamic
FP32_TOLERANCE = 1e-4
OPSET = 18


@contextmanager
def _quiet():
    """The exporter's and quantiser's chatter (torchvision not installed, pre-processing advice, shape warnings)
    kept off the user's terminal; errors still raise."""
    loggers = [logging.getLogger(n) for n in ("", "torch.onnx", "torch.export", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _need_onnx():
    from importlib import import_module

    for name in ("onnx", "onnxruntime", "onnxscript"):  # (the exporter imports onnxscript late, deep inside)
        try:
            import_module(name)
        except ImportError:
            raise ExportError(f"the ONNX export needs {name}: pip install -e \".[onnx]\" (with torch pinned)") from None


def _graph_module(backbone, pool):
    import torch

    class Pooled(torch.nn.Module):
        """The backbone's last hidden state, pooled as the encoder pools it."""

        def __init__(self):
            super().__init__()
            self.backbone = backbone

        def forward(self, input_ids, attention_mask):
            hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return pool(hidden.float(), attention_mask)

    return Pooled().eval()


def _inputs(vocab: int, shapes, seed: int = 0):
    """Random token ids of the given (batch, length) shapes; every second row padded from two thirds on."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for b, n in shapes:
        ids = torch.randint(1000 if vocab > 2000 else 1, vocab, (b, n), generator=g)
        mask = torch.ones_like(ids)
        mask[1::2, max(5, 2 * n // 3):] = 0
        yield ids, mask


def _export_graph(module, path: Path, example, max_length: int) -> None:
    import torch

    from tctcb.encode import INPUT_NAMES, OUTPUT_NAME

    batch, length = torch.export.Dim("batch", min=1), torch.export.Dim("length", min=1, max=max_length)
    with _quiet():
        torch.onnx.export(module, example, str(path), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                          dynamo=True, external_data=False, opset_version=OPSET, verbose=False,
                          dynamic_shapes={"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}})


def _compare(module, path: Path, checks) -> tuple[float, float]:
    """(max abs diff, smallest cosine) of the graph at ``path`` against ``module`` on ``checks``."""
    import onnxruntime as ort
    import torch

    from tctcb.encode import OUTPUT_NAME

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    diff, cos = 0.0, 1.0
    for ids, mask in checks:
        with torch.inference_mode():
            ref = module(ids, mask).numpy()
        got = sess.run([OUTPUT_NAME], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        diff = max(diff, float(np.abs(got - ref).max()))
        norms = np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1)
        live = norms > 0
        if live.any():
            cos = min(cos, float(((got * ref).sum(1)[live] / norms[live]).min()))
    return diff, cos


def export_onnx(model, output, *, pooling: str | None = None, quantize: str | None = None, overwrite: bool = False,
                progress: bool = True) -> dict:
    """Export ``model`` (a model folder or name) to an ONNX export folder ``output``; return its config.

    ``pooling``: ``tct`` or ``st`` (default: ``st`` for a sentence-transformers folder, else ``tct``, as
    ``tctcb.encode`` decides); ``quantize``: None (fp32) or ``"int8"``."""
    import torch

    from tctcb import __version__
    from tctcb.encode import GRAPHS, ONNX_CONFIG, ONNX_FORMAT, POOLS, st_max_length
    from tctcb.models import BERT_FAMILY, DOC_MAX_LENGTH, ENCODER_FAMILY, QUERY_LENGTH, load_backbone

    if quantize not in (None, *QUANTIZE):
        raise ExportError(f"--quantize {quantize}: one of {QUANTIZE}")
    _need_onnx()
    import onnx
    import onnxruntime

    src = encoder_source(model)
    pooling = model_pooling(src, pooling)
    backbone, tokenizer = load_backbone(src, families=BERT_FAMILY if pooling == "tct" else ENCODER_FAMILY)
    backbone.eval()
    max_length = DOC_MAX_LENGTH if pooling == "tct" else st_max_length(src)
    vocab = int(backbone.config.vocab_size)
    checks = {}
    with writing(output, overwrite) as tmp:
        for pool, name in GRAPHS[pooling].items():
            module = _graph_module(backbone, POOLS[pool])
            query = pool == "tct-query"  # exactly 36 tokens, no padding, as the encoder feeds it
            example = next(_inputs(vocab, [(2, QUERY_LENGTH if query else 16)]))
            target = tmp / name
            fp32 = tmp / f"{name}.fp32" if quantize else target
            if progress:
                print(f"exporting {pool} graph of {src} -> {name}{' (int8)' if quantize else ''}", file=sys.stderr)
            _export_graph(module, fp32, example, max_length)
            shapes = [(1, QUERY_LENGTH), (3, QUERY_LENGTH), (7, QUERY_LENGTH)] if query else \
                [(1, 5), (3, 37), (8, 130), (2, max_length)]
            cases = list(_inputs(vocab, shapes, seed=1))
            if query:
                for _, mask in cases:
                    mask.fill_(1)
            diff, _ = _compare(module, fp32, cases)
            if diff > FP32_TOLERANCE:
                raise ExportError(f"the exported {pool} graph differs from the PyTorch encoder by {diff:.2e} "
                                  f"(> {FP32_TOLERANCE}); not written (torch {torch.__version__}, onnx {onnx.__version__})")
            checks[pool] = {"max_abs_diff_fp32": diff}
            if quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                with _quiet():
                    opts = QUANTIZE_OPTIONS[quantize]
                    quantize_dynamic(str(fp32), str(target), weight_type=getattr(QuantType, opts["weight_type"]),
                                     per_channel=opts["per_channel"])
                os.unlink(fp32)
                qdiff, qcos = _compare(module, target, cases)
                checks[pool].update(max_abs_diff_int8=qdiff, min_cosine_int8=qcos)
        tokenizer.save_pretrained(str(tmp))
        config = {
            "format": ONNX_FORMAT, "pooling": pooling, "graphs": dict(GRAPHS[pooling]),
            "dimension": int(backbone.config.hidden_size), "max_length": int(max_length),
            "query_length": QUERY_LENGTH if pooling == "tct" else None,
            "quantize": quantize, "quantize_options": QUANTIZE_OPTIONS.get(quantize),
            "source": str(src), "model_type": backbone.config.model_type, "opset": OPSET,
            "checks": checks, "created_by": f"tctcb {__version__}",
            "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        }
        (tmp / ONNX_CONFIG).write_text(json.dumps(config, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if progress:
        worst = ", ".join(f"{p}: max abs diff {c['max_abs_diff_fp32']:.1e}"
                          + (f", int8 min cosine {c['min_cosine_int8']:.4f}" if quantize else "") for p, c in checks.items())
        print(f"{output}: ONNX export ({pooling} pooling, {quantize or 'fp32'}) checked against PyTorch ({worst}); "
              f"encode with: python -m tctcb.encode --backend onnx --encoder {output} ...", file=sys.stderr)
    return config
