"""Weight-space interpolation (``python -m tctcb.train interpolate``, WiSE-FT): the arithmetic, the ends, the
encoders built from the result, and refusals of checkpoints that are not two states of one model."""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from tctcb.models import ColBERT, TctColBert
from tctcb.models._colbert import ColBERTConfig
from tctcb.models._interpolate import InterpolationError, interpolate_checkpoints
from tctcb.train import main
from tiny_models import make_tiny_bert, make_tiny_mpnet


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two tiny students of one architecture and tokenizer with different weights (seeds 0 and 1)."""
    root = tmp_path_factory.mktemp("interp")
    a = make_tiny_bert(root / "a", hidden=32, layers=1, seed=0)
    b_raw = make_tiny_bert(root / "b-raw", hidden=32, layers=1, seed=1)
    # one tokenizer for both: copy a's tokenizer files over b's
    for f in a.iterdir():
        if f.suffix != ".safetensors" and f.name != "config.json":
            shutil.copy2(f, b_raw / f.name)
    sa, sb = TctColBert.from_pretrained(a), TctColBert.from_pretrained(b_raw)
    sa.save_pretrained(root / "start")
    sb.save_pretrained(root / "end")
    return root / "start", root / "end"


def _weights(d):
    return load_file(str(d / "model.safetensors"))


def test_tensors_are_the_weighted_mean(pair, tmp_path):
    start, end = pair
    out = interpolate_checkpoints(start, end, 0.25, tmp_path / "mix")
    w0, w1, wm = _weights(start), _weights(end), _weights(out)
    assert set(wm) == set(w0)
    moved = 0
    for k in w0:
        assert torch.allclose(wm[k], 0.75 * w0[k] + 0.25 * w1[k], atol=1e-6), k
        moved += not torch.equal(w0[k], w1[k])
    assert moved > 0  # the two ends really differ
    rec = json.loads((out / "tctcb_interpolation.json").read_text())
    assert rec["alpha"] == 0.25 and rec["start"].endswith("start") and rec["end"].endswith("end")
    assert (out / "vocab.txt").read_bytes() == (end / "vocab.txt").read_bytes()


def test_the_ends_give_the_end_models_and_the_result_loads_as_a_student(pair, tmp_path):
    start, end = pair
    texts = ["vitamin d and bone density", "a second passage"]
    for alpha, ref in ((0.0, start), (1.0, end)):
        out = interpolate_checkpoints(start, end, alpha, tmp_path / f"a{alpha}")
        got, want = TctColBert.from_pretrained(out).eval(), TctColBert.from_pretrained(ref).eval()
        with torch.no_grad():
            assert torch.allclose(got.encode_passage(texts), want.encode_passage(texts), atol=1e-6)
            assert torch.allclose(got.encode_query(["bones"]), want.encode_query(["bones"]), atol=1e-6)
    mid = TctColBert.from_pretrained(interpolate_checkpoints(start, end, 0.5, tmp_path / "mid")).eval()
    with torch.no_grad():
        e = mid.encode_passage(texts)
        e0 = TctColBert.from_pretrained(start).eval().encode_passage(texts)
    assert not torch.allclose(e, e0)


def test_colbert_teachers_interpolate_too(tmp_path):
    bb = make_tiny_bert(tmp_path / "bb", hidden=32, layers=1, seed=0)
    cfg = ColBERTConfig(dim=8, doc_maxlen=16)
    ColBERT.from_backbone(bb, cfg, seed=0).save_pretrained(tmp_path / "t0")
    ColBERT.from_backbone(bb, cfg, seed=1).save_pretrained(tmp_path / "t1")
    out = interpolate_checkpoints(tmp_path / "t0", tmp_path / "t1", 0.5, tmp_path / "tm")
    lin = [load_file(str(d / "colbert_linear.safetensors"))["weight"] for d in (tmp_path / "t0", tmp_path / "t1", out)]
    assert torch.allclose(lin[2], (lin[0] + lin[1]) / 2, atol=1e-6)
    ColBERT.from_pretrained(out)


def test_refused_pairs_write_nothing(pair, tmp_path):
    start, end = pair
    other = make_tiny_bert(tmp_path / "wide", hidden=48, layers=1, seed=0)
    with pytest.raises(InterpolationError, match=r"different architectures: config.json differs in \['hidden_size'"):
        interpolate_checkpoints(start, other, 0.5, tmp_path / "x")
    mp = make_tiny_mpnet(tmp_path / "mp", hidden=32, layers=1)
    with pytest.raises(InterpolationError, match="different architectures"):
        interpolate_checkpoints(start, mp, 0.5, tmp_path / "x")
    vocab = tmp_path / "vocab"
    shutil.copytree(end, vocab)
    (vocab / "vocab.txt").write_text((vocab / "vocab.txt").read_text() + "extra\n")
    (vocab / "tokenizer.json").unlink()
    with pytest.raises(InterpolationError, match="different tokenizers"):
        interpolate_checkpoints(start, vocab, 0.5, tmp_path / "x")
    with pytest.raises(InterpolationError, match="alpha must be in"):
        interpolate_checkpoints(start, end, 1.5, tmp_path / "x")
    with pytest.raises(InterpolationError, match="is one of the inputs"):
        interpolate_checkpoints(start, end, 0.5, end)
    with pytest.raises(InterpolationError, match="does not exist"):
        interpolate_checkpoints(tmp_path / "nope", end, 0.5, tmp_path / "x")
    bin_only = tmp_path / "bin-only"
    bin_only.mkdir()
    shutil.copy2(start / "config.json", bin_only / "config.json")
    (bin_only / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(InterpolationError, match="only safetensors checkpoints are interpolated"):
        interpolate_checkpoints(bin_only, end, 0.5, tmp_path / "x")
    broken = tmp_path / "broken"
    shutil.copytree(end, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InterpolationError, match="model.safetensors: not a readable safetensors file"):
        interpolate_checkpoints(start, broken, 0.5, tmp_path / "x")
    (broken / "config.json").write_text("[1, 2]")
    with pytest.raises(InterpolationError, match="expected a JSON object"):
        interpolate_checkpoints(start, broken, 0.5, tmp_path / "x")
    # a tensor of another shape under the same config is caught tensor by tensor
    bad = tmp_path / "bad"
    shutil.copytree(end, bad)
    w = _weights(bad)
    k = sorted(w)[0]
    w[k] = torch.zeros(3)
    from safetensors.torch import save_file

    save_file(w, str(bad / "model.safetensors"))
    with pytest.raises(InterpolationError, match=f"tensor {k} is"):
        interpolate_checkpoints(start, bad, 0.5, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".x.tmp-")]  # no half-written folder left


def test_tokenizer_call_state_is_not_a_different_tokenizer(pair, tmp_path):
    """A checkpoint saved right after encoding queries (the trainer's dev evaluation) records truncation at 36
    in tokenizer.json, one saved after a training step's passages at the passage length: the same tokenizer,
    so they interpolate; a tokenizer.json whose vocabulary differs is still refused."""
    start, end = pair
    s, e = TctColBert.from_pretrained(start), TctColBert.from_pretrained(end)
    with torch.no_grad():
        s.encode_query(["what is vitamin d"])
        e.encode_passage(["vitamin d is a fat-soluble vitamin"], max_length=24)
    s.save_pretrained(tmp_path / "after-queries")
    e.save_pretrained(tmp_path / "after-passages")
    ta = json.loads((tmp_path / "after-queries" / "tokenizer.json").read_text())
    tb = json.loads((tmp_path / "after-passages" / "tokenizer.json").read_text())
    assert ta["truncation"] != tb["truncation"]  # the case this guards: only the last call's settings differ
    out = interpolate_checkpoints(tmp_path / "after-queries", tmp_path / "after-passages", 0.5, tmp_path / "mid")
    assert (out / "model.safetensors").is_file()
    tb["model"]["vocab"] = {**tb["model"]["vocab"], "zzzextra": len(tb["model"]["vocab"])}
    (tmp_path / "after-passages" / "tokenizer.json").write_text(json.dumps(tb))
    with pytest.raises(InterpolationError, match=r"different tokenizers \(tokenizer.json differs\)"):
        interpolate_checkpoints(tmp_path / "after-queries", tmp_path / "after-passages", 0.5, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli(pair, tmp_path, capsys):
    start, end = pair
    out = tmp_path / "cli"
    assert main(["interpolate", "--start", str(start), "--end", str(end), "--alpha", "0.5", "--output", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    w0, w1, wm = _weights(start), _weights(end), _weights(out)
    assert all(torch.allclose(wm[k], (w0[k] + w1[k]) / 2, atol=1e-6) for k in w0)
    assert main(["interpolate", "--start", str(start), "--end", str(tmp_path / "nope"), "--alpha", "0.5",
                 "--output", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err and "Traceback" not in err
