"""tctcb._atomic: whole files and whole directories, or nothing."""
import pytest

from tctcb._atomic import swap_dir, write_text


def test_write_text_replaces_and_leaves_no_temp(tmp_path):
    p = write_text(tmp_path / "sub" / "a.json", "1")
    write_text(p, "2")
    assert p.read_text() == "2" and [x.name for x in p.parent.iterdir()] == ["a.json"]


def test_swap_dir_replaces_old_directory(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "old.txt").write_text("old")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "index").write_text("new")
    swap_dir(tmp_path / "new", tmp_path / "target")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["target"]
    assert [x.name for x in (tmp_path / "target").iterdir()] == ["index"]


def test_swap_dir_missing_source_keeps_nothing_half_done(tmp_path):
    with pytest.raises(FileNotFoundError):
        swap_dir(tmp_path / "nope", tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_swap_dir_failure_restores_old(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep.txt").write_text("old")
    with pytest.raises(FileNotFoundError):
        swap_dir(tmp_path / "nope", tmp_path / "target")
    assert (tmp_path / "target" / "keep.txt").read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["target"]
