"""ONNX as an encoding backend: the export folder's format, and the runner that replaces the model call.

An ONNX export folder (written by ``python -m tctcb.export --format onnx``) holds::

    tctcb-onnx.json      what the graphs compute: pooling, lengths, quantisation, source model, graph files
    query.onnx           TCT-ColBERT: backbone + query pooling (mean over positions 4..)
    document.onnx        TCT-ColBERT: backbone + document pooling (masked mean over positions 4..)
    encoder.onnx         sentence-transformers pooling ("st"): one graph for queries and documents
    tokenizer files      the source model's tokenizer, unchanged

Each graph takes ``input_ids`` and ``attention_mask`` (int64, ``[batch, length]``, both axes dynamic) and
returns ``pooled_embedding`` ``[batch, dimension]`` float32: the encoder's vector, pooling included, so the engine
(tokenisation, length-sorted token-budget batching) is the same for both backends and only the model call
differs (:class:`OnnxRunner` instead of the PyTorch model).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tctcb._command import UserError

__all__ = ["ONNX_CONFIG", "ONNX_FORMAT", "GRAPHS", "INPUT_NAMES", "OUTPUT_NAME", "OnnxError", "OnnxRunner",
           "is_onnx_export", "read_onnx_config", "resolve_backend", "export_command"]

ONNX_CONFIG = "tctcb-onnx.json"
ONNX_FORMAT = 1
#: graph file per pool, by pooling (the pools are tctcb.encode._encoders.POOLS)
GRAPHS = {
    "tct": {"tct-query": "query.onnx", "tct-document": "document.onnx"},
    "st": {"st": "encoder.onnx"},
}
BACKENDS = ("torch", "onnx")
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "pooled_embedding"  # ("embedding" clashes with a node name inside exported BERT graphs)


class OnnxError(UserError, ValueError):
    """A folder that is not a usable ONNX export, or the ONNX backend asked for what it cannot do."""


def export_command(model) -> str:
    return f"python -m tctcb.export --model {model if model is not None else 'MODEL_DIR'} --format onnx --output OUT"


def is_onnx_export(path) -> bool:
    return path is not None and (Path(path) / ONNX_CONFIG).is_file()


def read_onnx_config(path) -> dict:
    """The export's ``tctcb-onnx.json``, checked: an :class:`OnnxError` naming the file when it is unreadable,
    of another format version, or names a graph that is not there."""
    d = Path(path)
    f = d / ONNX_CONFIG
    if not f.is_file():
        raise OnnxError(f"--backend onnx: {d} is not an ONNX export (no {ONNX_CONFIG}); write one with: "
                        f"{export_command(d)}")
    try:
        cfg = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise OnnxError(f"{f}: not readable JSON ({e})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != ONNX_FORMAT or cfg.get("pooling") not in GRAPHS:
        raise OnnxError(f"{f}: not a tctcb ONNX export of format {ONNX_FORMAT} (export the model again)")
    graphs = cfg.get("graphs")
    if not isinstance(graphs, dict) or set(graphs) != set(GRAPHS[cfg["pooling"]]):
        raise OnnxError(f"{f}: graphs {graphs!r} do not match pooling {cfg['pooling']!r}")
    missing = [g for g in graphs.values() if not (d / g).is_file()]
    if missing:
        raise OnnxError(f"{d}: graph file(s) {missing} named in {ONNX_CONFIG} are missing (export again)")
    return cfg


def resolve_backend(encoder_dir, backend: str | None) -> str:
    """``torch`` or ``onnx`` for ``encoder_dir``: as asked, else ``onnx`` for an ONNX export folder (found by its
    ``tctcb-onnx.json``) and ``torch`` for anything else.  Asking ``onnx`` of a model folder, or ``torch`` of an
    export, is an :class:`OnnxError` saying what to do instead."""
    export = is_onnx_export(encoder_dir)
    if backend is None:
        return "onnx" if export else "torch"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "onnx" and not export:
        raise OnnxError(f"--backend onnx needs an ONNX export as --encoder; "
                        f"{encoder_dir if encoder_dir is not None else 'the default model'} is not one (no "
                        f"{ONNX_CONFIG}); write one with: {export_command(encoder_dir)}")
    if backend == "torch" and export:
        source = read_onnx_config(encoder_dir).get("source")
        raise OnnxError(f"{encoder_dir} is an ONNX export: encode with --backend onnx, or with --backend torch "
                        f"from its source model{f' ({source})' if source else ''}")
    return backend


class OnnxRunner:
    """The model call of the encoding engine, through onnxruntime: ``runner(input_ids, mask, pool)`` -> pooled
    ``[batch, d]`` float32 (a torch tensor), for the pools the export has graphs for."""

    def __init__(self, export_dir, device=None, pools: tuple[str, ...] = ()):
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - install problem
            raise OnnxError("the ONNX backend needs onnxruntime: pip install -e \".[onnx]\"") from None
        from tctcb.models import load_tokenizer

        self.dir = Path(export_dir)
        self.config = read_onnx_config(self.dir)
        missing = [p for p in pools if p not in self.config["graphs"]]
        if missing:
            raise OnnxError(f"{self.dir} was exported for pooling {self.config['pooling']!r}: it has no graph for "
                            f"{missing} (export the model with the pooling you encode with)")
        providers = ["CPUExecutionProvider"]
        if device is not None and device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise OnnxError(f"--device {device}: this onnxruntime has no CUDA provider (it has "
                                f"{ort.get_available_providers()}); run the ONNX backend with --device cpu")
            providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
        try:
            self.tokenizer = load_tokenizer(self.dir, self.config.get("model_type"))
        except Exception as e:  # tokenizers and transformers raise their own for a damaged file (Ctrl-C is not an Exception)
            raise OnnxError(f"{self.dir}: its tokenizer cannot be loaded ({type(e).__name__}); export again") from None
        self.dimension = int(self.config["dimension"])
        self.max_length = int(self.config["max_length"])
        self.dtype = self.config.get("quantize") or "fp32"
        self._ort, self._providers, self._sessions = ort, providers, {}

    def session(self, pool: str):
        if pool not in self._sessions:
            path = self.dir / self.config["graphs"][pool]
            opts = self._ort.SessionOptions()
            opts.log_severity_level = 3  # errors only: no warnings about unused initialisers on stderr
            try:
                self._sessions[pool] = self._ort.InferenceSession(str(path), opts, providers=self._providers)
            except Exception as e:  # onnxruntime's Fail / InvalidGraph for a truncated or foreign file
                raise OnnxError(f"{path}: onnxruntime cannot load it ({str(e).splitlines()[0][:200]}); export again") from None
        return self._sessions[pool]

    def __call__(self, input_ids, mask, pool: str, full: bool = False):  # (``full``: the graph takes the mask anyway)
        import torch

        out = self.session(pool).run([OUTPUT_NAME], {"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32))
