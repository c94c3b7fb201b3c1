"""The command line refuses bad input with one clear line and exit status 2 (no traceback)."""
import pytest

from tctcb.train import main
from tctcb.train._tiny import make_tiny_bert


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
    assert "--gamma must be in [0, 1]" in capsys.readouterr().err


def test_unknown_split(data_dir, cache_dir, tmp_path, tiny_dir, capsys):
    args = _distill(tmp_path, tiny_dir, "--kd", "none")
    args[args.index("--split") + 1] = "nosuch"
    assert main(args) == 2
    assert "no topic set adi-nosuch or 'nosuch'" in capsys.readouterr().err


def test_resume_auto_without_checkpoint(data_dir, cache_dir, tmp_path, tiny_dir, capsys):
    assert main(_distill(tmp_path, tiny_dir, "--kd", "none", "--resume", "auto")) == 2
    assert "no checkpoint in" in capsys.readouterr().err
