"""The command line refuses bad input with one clear line and exit status 2 (no traceback)."""
import pytest

from tctcb.train import main
from tiny_models import make_tiny_bert


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny"), hidden=32, layers=1)


def _distill(tmp_path, tiny_dir, *extra):
    return ["distill", "--collection", "adi", "--split", "adi", "--dev-split", "none", "--backbone", str(tiny_dir),
            "--output", str(tmp_path / "out"), "--batch-size", "4", "--max-steps", "2", "--quiet", *extra]


def test_teacher_dir_that_is_not_colbert(data_dir, cache_dir, tmp_path, tiny_dir, capsys):
    assert main(_distill(tmp_path, tiny_dir, "--teacher", str(tiny_dir))) == 2
    err = capsys.readouterr().err
    assert "is not a ColBERT checkpoint" in err and "tctcb_colbert.json" in err


def test_settings_checked_before_work(tmp_path, tiny_dir, capsys):
    assert main(_distill(tmp_path, tiny_dir, "--kd", "pairwise", "--teacher", "x")) == 2
    assert "--kd pairwise" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "in-batch")) == 2
    assert "--teacher DIR is required" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--gamma", "2")) == 2
    assert "argument --gamma: must be <= 1, got 2.0" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--anchor-weight", "-1")) == 2
    assert "argument --anchor-weight: must be >= 0, got -1.0" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--student-scale", "30")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --student-scale") and "--student-format mean" in err and err.count("\n") == 1
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--student-scale", "0")) == 2
    assert "argument --student-scale: must be > 0, got 0.0" in capsys.readouterr().err


def test_unknown_split(data_dir, cache_dir, tmp_path, tiny_dir, capsys):
    args = _distill(tmp_path, tiny_dir, "--kd", "none")
    args[args.index("--split") + 1] = "nosuch"
    assert main(args) == 2
    assert "no topic set adi-nosuch or 'nosuch'" in capsys.readouterr().err


def test_resume_auto_without_checkpoint_starts_afresh(data_dir, cache_dir, tmp_path, tiny_dir, capsys):
    """A run killed before its first checkpoint: ``--resume auto`` starts at step 0 (its log keeps no stale step)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "log.jsonl").write_text('{"event": "start", "step": 0}\n{"step": 1, "loss": 9.0}\n{"step": 2, "lo')
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--resume", "auto")) == 0
    assert "no finished checkpoint" in capsys.readouterr().err
    import json

    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2] and 9.0 not in [r.get("loss") for r in records]
    assert (out / "model" / "config.json").is_file()


def test_finished_output_refused_without_resume_or_overwrite(data_dir, cache_dir, tmp_path, tiny_dir, capsys):
    out = tmp_path / "out"
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none")) == 0
    log = (out / "log.jsonl").read_text()
    capsys.readouterr()
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--lr", "1e-3")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output") and "holds an earlier run" in err and "--overwrite" in err
    assert (out / "log.jsonl").read_text() == log  # untouched
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--resume", "auto", "--overwrite")) == 2
    assert "give one" in capsys.readouterr().err
    (out / "notes.txt").write_text("mine")
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--lr", "1e-3", "--overwrite")) == 0
    assert (out / "notes.txt").read_text() == "mine"  # only what a run writes is deleted
    new = (out / "log.jsonl").read_text()
    assert new.count('"event": "start"') == 1 and '"lr": 0.001' in new


def test_option_combinations_that_mean_something_else(tmp_path, tiny_dir, capsys):
    assert main(_distill(tmp_path, tiny_dir, "--kd", "in-batch", "--teacher-scores", "precomputed",
                         "--teacher", "x")) == 2
    assert "cannot give --kd in-batch's scores" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--teacher-scores", "precomputed")) == 2
    assert "--kd none trains on hard labels only" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "pairwise", "--negatives", "bm25", "--teacher", "x",
                         "--teacher-scores-file", "s.tsv")) == 2
    assert "--teacher-scores-file goes with --teacher-scores precomputed" in capsys.readouterr().err


@pytest.mark.parametrize("option,value,says", [
    ("--lr", "nan", "must be a finite number"), ("--lr", "0", "must be > 0"), ("--temperature", "inf", "finite"),
    ("--batch-size", "0", "must be >= 1"), ("--max-steps", "-3", "must be >= 1"), ("--gamma", "-0.1", "must be >= 0"),
    ("--warmup-ratio", "1.5", "must be <= 1"), ("--seed", "x", "expected an integer"),
])
def test_numbers_checked_where_parsed(tmp_path, tiny_dir, capsys, option, value, says):
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", option, value)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: argument {option}: ") and says in err


def test_numbers_checked_in_python_configs_too():
    from tctcb._command import UserError
    from tctcb.train import DistillConfig
    from tctcb.train._config import check_numbers

    with pytest.raises(UserError, match="--temperature must be > 0, got 0"):
        check_numbers(DistillConfig(collection="adi", output_dir="x", temperature=0.0))
    check_numbers(DistillConfig(collection="adi", output_dir="x"))  # the defaults pass


def test_mine_with_checked_before_work(tmp_path, tiny_dir, capsys):
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--negatives", "bm25", "--mine-with", str(tiny_dir))) == 2
    assert "--mine-with applies to --negatives dense, not --negatives bm25" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--negatives", "dense",
                         "--mine-with", str(tmp_path / "empty"))) == 2
    assert "not a model checkpoint folder (no config.json there)" in capsys.readouterr().err
    from tctcb.models import ColBERT, ColBERTConfig

    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8), seed=0)
    teacher.save_pretrained(tmp_path / "teacher")
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--negatives", "dense",
                         "--mine-with", str(tmp_path / "teacher"))) == 2
    assert "a ColBERT teacher checkpoint; mining needs a single-vector model" in capsys.readouterr().err


def test_dense_negatives_mined_by_a_tct_student(data_dir, cache_dir, tmp_path, tiny_dir, capsys):
    """TCT-ColBERT v2's recipe: an earlier student's own ranking supplies the hard negatives.  The mined
    lists must be that student's TCT scores (as the training code computes them), not sentence-transformers'."""
    import json

    import torch

    from tctcb.data import get_collection, get_topics
    from tctcb.models import TctColBert

    student = TctColBert.from_pretrained(tiny_dir).save_pretrained(tmp_path / "student")
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--negatives", "dense", "--negative-depth", "5",
                         "--mine-with", str(student))) == 0
    err = capsys.readouterr().err
    assert f"mining dense negatives with {student} (TCT-ColBERT encoding), top 5" in err
    # this student's file, by the CLI's own key (a TCTCB_CACHE reused between runs holds earlier students' too)
    from tctcb.train._cli import _model_tag

    cache = cache_dir / "train" / f"negatives-adi-dense-5-student-{_model_tag(student, 'tct')}.json"
    assert cache.is_file()
    ranked = json.loads(cache.read_text())
    corpus = {d.docid: d.contents for d in get_collection("adi").docs()}
    topics = get_topics("adi")
    model = TctColBert.from_pretrained(student).eval()
    docids = list(corpus)
    with torch.no_grad():
        d = model.encode_passage([corpus[x] for x in docids])
        for qid in list(topics)[:5]:
            s = (d @ model.encode_query([topics[qid]])[0]).tolist()
            expected = [docids[i] for i in sorted(range(len(docids)), key=lambda i: -s[i])[:5]]
            assert ranked[qid][:3] == expected[:3], qid
    # the same folder retrained (new weights) is a new cache key: stale negatives are never reused
    from tctcb.train._cli import _model_tag

    tag = _model_tag(student, "tct")
    TctColBert.from_pretrained(make_tiny_bert(tmp_path / "other", hidden=32, layers=1, seed=5)).save_pretrained(student)
    assert _model_tag(student, "tct") != tag


def test_resume_accepts_checkpoints_from_before_a_new_setting():
    from dataclasses import asdict

    from tctcb.train import DistillConfig
    from tctcb.train._config import field_defaults, settings_diff

    cfg = asdict(DistillConfig(collection="adi", output_dir="x"))
    old = {k: v for k, v in cfg.items() if k != "mine_with"}  # a checkpoint written before --mine-with existed
    assert settings_diff(old, cfg, field_defaults(DistillConfig)) == []
    assert settings_diff({**cfg, "mine_with": "a"}, cfg, field_defaults(DistillConfig)) == [
        "  mine_with: 'a' (checkpoint) vs '' (now)"]


def test_anchor_settings_checked_before_work(tmp_path, tiny_dir, capsys):
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--anchor-only")) == 2
    assert "--anchor-only trains on the anchor term alone" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "in-batch", "--teacher", "t", "--anchor-only",
                         "--anchor-weight", "1")) == 2
    assert "--anchor-only" in capsys.readouterr().err
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--anchor-weight", "1", "--anchor-loss", "mse",
                         "--anchor-norm", "0")) == 2
    assert "argument --anchor-norm: must be > 0, got 0.0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
