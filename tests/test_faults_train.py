"""Faults in training: killed during a checkpoint save and between checkpoints, Ctrl-C, bad settings and inputs.

A killed run resumed with ``--resume auto`` must end with the uninterrupted run's weights, its log holding
each step once; a half-written checkpoint is never taken for the latest one.
"""
import json

import pytest
import torch

from faults import run_command, run_with_fault
from tctcb.train import main as train_main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tiny_models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny"), hidden=32, layers=1)


def _args(tiny, out, *extra):
    return ["distill", "--collection", "adi", "--split", "adi", "--dev-split", "none", "--backbone", tiny,
            "--kd", "none", "--batch-size", "4", "--max-steps", "6", "--save-every", "2", "--quiet",
            "--output", out, *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny, data_dir, cache_dir):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert train_main(list(map(str, _args(tiny, out)))) == 0
    return out


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def _same_model(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


def _steps_logged(out):
    return [r["step"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "loss" in r]


def test_kill_during_a_checkpoint_save_then_resume_auto(tmp_path, tiny, reference):
    out = tmp_path / "run"
    # the 2nd save writes step 4's model into its temporary folder; the kill comes before trainer.pt and state.json
    r = run_with_fault("tctcb.train", _args(tiny, out), "tctcb.train._trainer:Trainer._save_model", 2, after=True)
    assert r.returncode == -9, r.stderr
    ck = out / "checkpoints"
    assert [p.name for p in ck.iterdir() if not p.name.startswith(".")] == ["step-0000002"]
    assert [p for p in ck.iterdir() if p.name.startswith(".step-0000004.tmp-")]  # the half-written one
    r = run_command("tctcb.train", _args(tiny, out, "--resume", "auto"))
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stderr and "step-0000002 at step 2" in r.stderr
    _same_model(out / "model", reference / "model")
    assert sorted(p.name for p in ck.iterdir()) == ["step-0000004", "step-0000006"]  # leftovers gone, last two kept
    assert _steps_logged(out) == [1, 2, 3, 4, 5, 6]


def test_kill_between_checkpoints_then_resume_auto(tmp_path, tiny, reference):
    out = tmp_path / "run"
    # log records: start, steps 1..; killed right after step 3's record (checkpoint of step 2 on disk)
    r = run_with_fault("tctcb.train", _args(tiny, out), "tctcb.train._trainer:Trainer.log", 4, after=True)
    assert r.returncode == -9
    assert _steps_logged(out) == [1, 2, 3]
    assert train_main(list(map(str, _args(tiny, out, "--resume", "auto")))) == 0
    _same_model(out / "model", reference / "model")
    assert _steps_logged(out) == [1, 2, 3, 4, 5, 6]


def test_ctrl_c_in_training_is_one_line_and_130(tmp_path, tiny, reference):
    out = tmp_path / "run"
    r = run_with_fault("tctcb.train", _args(tiny, out), "tctcb.train._trainer:Trainer.log", 5, after=True, sig="INT")
    assert r.returncode == 130
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in r.stderr
    r = run_command("tctcb.train", _args(tiny, out))  # a rerun that forgets --resume is refused, not a silent retrain
    assert r.returncode == 2 and "holds an earlier run" in r.stderr
    assert train_main(list(map(str, _args(tiny, out, "--resume", "auto")))) == 0
    _same_model(out / "model", reference / "model")


def test_bad_training_inputs_are_one_line(tmp_path, tiny, data_dir, cache_dir, capsys):
    def err_of(*extra, out=tmp_path / "o"):
        assert train_main(list(map(str, _args(tiny, out, *extra)))) == 2
        err = capsys.readouterr().err
        errors = [ln for ln in err.splitlines() if ln.startswith("error")]
        assert len(errors) == 1 and errors[0].startswith("error: ") and "Traceback" not in err, err
        return errors[0]

    (tmp_path / "file").write_text("x")
    assert "is a file, not a folder" in err_of(out=tmp_path / "file")
    trip = tmp_path / "triples.tsv"
    trip.write_bytes(b"1\t2\t3\n\xff\xfe\t1\t2\n")
    assert "line 2: not UTF-8 text" in err_of("--triples", trip)
    run = tmp_path / "neg.trec"
    run.write_text("1 Q0 2 1 nan x\n")
    assert "not a finite number" in err_of("--negatives-run", run)
    if not torch.cuda.is_available():
        assert "CUDA is not available here" in err_of("--device", "cuda")


def test_damaged_checkpoints_models_and_score_files_are_one_line(tmp_path, tiny, reference, capsys):
    import shutil

    def error_of(args):
        assert train_main(list(map(str, args))) == 2
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("error")]
        assert len(lines) == 1 and "Traceback" not in err, err
        return lines[0]

    for damage, says in (("state.json", "state.json is damaged"), ("trainer.pt", "trainer.pt cannot be read")):
        out = tmp_path / damage
        shutil.copytree(reference, out)
        (out / "checkpoints" / "step-0000006" / damage).write_text("garbage\n")
        assert says in error_of(_args(tiny, out, "--resume", str(out / "checkpoints" / "step-0000006")))
    bad = tmp_path / "badmodel"
    shutil.copytree(tiny, bad)
    (bad / "model.safetensors").write_bytes(b"\xff" * 64)
    assert "cannot be loaded" in error_of(_args(bad, tmp_path / "o"))
    scores = tmp_path / "scores.tsv"
    scores.write_text("q1\td1\tnan\n")
    assert "not a finite number" in error_of(
        _args(tiny, tmp_path / "o2", "--kd", "pairwise", "--negatives", "bm25", "--teacher-scores", "precomputed",
              "--teacher-scores-file", scores))
