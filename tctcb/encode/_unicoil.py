"""uniCOIL query term weights, for Pyserini's prebuilt uniCOIL impact indexes (``msmarco-v1-passage.unicoil``, ...).

The same numbers as Pyserini's ``pyserini.encode.UniCoilQueryEncoder`` (which no longer loads under
transformers 5: its model class predates ``post_init``): a BERT whose last hidden states go through a one-unit
linear layer (``tok_proj``) and a ReLU; each WordPiece token of the query (``[CLS]`` dropped, ``[SEP]`` kept, at most
128 tokens) gets its weight, a token that occurs twice gets the sum, and weights are quantised as Pyserini's
impact encoders do (``round(w / 5 * 256)``). A checkpoint is castorini's layout: a BERT ``config.json``, the
WordPiece vocabulary, and weights named ``bert.*`` and ``tok_proj.*`` (``model.safetensors`` or
``pytorch_model.bin``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from tctcb.encode._splade import quantise

__all__ = ["UniCoilQueryEncoder"]

_MAX_LENGTH = 128  # Pyserini's


def _state_dict(model_dir: Path) -> dict:
    import torch

    if (model_dir / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(model_dir / "model.safetensors"))
    if (model_dir / "pytorch_model.bin").is_file():
        return torch.load(str(model_dir / "pytorch_model.bin"), map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"no uniCOIL weights in {model_dir} (model.safetensors or pytorch_model.bin)")


class UniCoilQueryEncoder:
    """uniCOIL query weights: ``encode(text) -> {token: int}``, ``encode_batch(texts) -> [dict]``; usable as Pyserini
    ``LuceneImpactSearcher``'s query encoder."""

    def __init__(self, model_dir, device: str = "cpu", max_length: int = _MAX_LENGTH):
        import torch
        from transformers import BertConfig, BertModel, BertTokenizer

        from tctcb.models import pick_device

        self.torch = torch
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no uniCOIL model at {self.model_dir} (expected config.json, vocab.txt, weights)")
        state = _state_dict(self.model_dir)
        missing = [k for k in ("tok_proj.weight", "tok_proj.bias") if k not in state]
        if missing:
            raise FileNotFoundError(f"{self.model_dir}: not a uniCOIL checkpoint (no {', '.join(missing)})")
        config = BertConfig.from_pretrained(str(self.model_dir))
        self.device = pick_device(device)
        self.bert = BertModel(config, add_pooling_layer=False)
        bert_state = {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.")}
        self.bert.load_state_dict(bert_state, strict=False)
        self.bert.to(self.device).eval()
        self.tok_proj = torch.nn.Linear(config.hidden_size, 1)
        self.tok_proj.load_state_dict({"weight": state["tok_proj.weight"], "bias": state["tok_proj.bias"]})
        self.tok_proj.to(self.device).eval()
        self.tokenizer = BertTokenizer.from_pretrained(str(self.model_dir))
        self.max_length = int(max_length)

    def encode_batch(self, texts: Sequence[str]) -> list[dict[str, int]]:
        torch = self.torch
        enc = self.tokenizer(list(texts), max_length=self.max_length, padding="longest", truncation=True,
                             add_special_tokens=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            hidden = self.bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            weights = torch.relu(self.tok_proj(hidden)).squeeze(-1).float().cpu().numpy()
        ids = enc["input_ids"].cpu().numpy()
        mask = enc["attention_mask"].cpu().numpy().astype(bool)
        out = []
        for row_ids, row_w, row_mask in zip(ids, weights, mask):
            summed: dict[str, float] = {}
            for tok, w in zip(self.tokenizer.convert_ids_to_tokens(row_ids[row_mask].tolist()), row_w[row_mask]):
                if tok != self.tokenizer.cls_token:
                    summed[tok] = summed.get(tok, 0.0) + float(w)
            q = quantise(np.array(list(summed.values()), dtype=np.float64))
            out.append({t: int(v) for t, v in zip(summed, q)})
        return out

    def encode(self, text: str, **kwargs) -> dict[str, int]:
        return self.encode_batch([text])[0]
