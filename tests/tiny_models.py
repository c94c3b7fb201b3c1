"""Tiny randomly-initialised BERT checkpoints (real vocabulary, 2 small layers) for tests and benchmarks."""
from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["make_tiny_bert", "make_tiny_mpnet", "make_tiny_splade"]

_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def make_tiny_bert(path, hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0, vocab_from=None) -> Path:
    """Write a BERT with the default backbone's vocabulary and tokenizer but ``layers`` x ``hidden``
    random weights (seeded) to ``path``; returns ``path``."""
    from transformers import BertConfig, BertModel

    from tctcb.models import default_backbone_dir

    src = Path(vocab_from) if vocab_from else default_backbone_dir()
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    for f in _TOKENIZER_FILES:
        if (src / f).is_file():
            shutil.copy(src / f, p / f)
    vocab = sum(1 for _ in open(src / "vocab.txt", encoding="utf-8"))
    cfg = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=2 * hidden, max_position_embeddings=512)
    return _save_seeded(BertModel, cfg, p, seed)


def _save_seeded(model_cls, cfg, p: Path, seed: int) -> Path:
    """Initialise ``model_cls(cfg)`` from ``seed`` (the global RNG left as it was) and save it to ``p``."""
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model_cls(cfg).save_pretrained(str(p))
    finally:
        torch.random.set_rng_state(state)
    return p


def make_tiny_mpnet(path, hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0, vocab_from=None) -> Path:
    """Like :func:`make_tiny_bert` but an MPNet (``<s>``/``</s>``/``<mask>`` special tokens, no token
    type ids), for the teacher's and the sentence-transformers encoder's non-BERT path."""
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizerFast

    from tctcb.models import default_backbone_dir

    src = Path(vocab_from) if vocab_from else default_backbone_dir()
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    words = [w.rstrip("\n") for w in open(src / "vocab.txt", encoding="utf-8")]
    tok = MPNetTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True)
    tok.save_pretrained(str(p))
    cfg = MPNetConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=2 * hidden, max_position_embeddings=514, pad_token_id=tok.pad_token_id)
    return _save_seeded(MPNetModel, cfg, p, seed)


def make_tiny_splade(path, active: int = 600, seed: int = 0) -> Path:
    """A tiny random BERT masked LM (one layer, the default backbone's vocabulary) whose output is sparse like
    SPLADE's: only ``active`` vocabulary entries can get a positive weight (Lucene allows 1,024 clauses a query),
    and the tied decoder's embeddings are scaled so that weights depend on the input.  Seeded; the global RNG is
    left as it was."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from tctcb.models import default_backbone_dir

    tok = AutoTokenizer.from_pretrained(str(default_backbone_dir()))
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=64))
        bias = torch.full((tok.vocab_size,), -100.0)
        bias[torch.randperm(tok.vocab_size)[:active]] = -25.0
        with torch.no_grad():
            model.cls.predictions.bias.copy_(bias)
            model.bert.embeddings.word_embeddings.weight.mul_(100.0)  # tied decoder: input-dependent logits
    finally:
        torch.random.set_rng_state(state)
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(p))
    tok.save_pretrained(str(p))
    return p
