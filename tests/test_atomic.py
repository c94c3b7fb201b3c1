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


def test_leftovers_of_killed_writers_are_removed_never_a_live_ones(tmp_path):
    import os
    import subprocess
    import sys

    from tctcb._atomic import atomic_open, tmp_dir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited
    (tmp_path / f".run.trec.tmp-{pid}").write_text("half a run")
    (tmp_path / f".index.tmp-{pid}-abcd").mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".index.tmp-{live.pid}-efgh").mkdir()
        (tmp_path / ".other.tmp-1-x").mkdir()  # another target's: not ours to judge
        with atomic_open(tmp_path / "run.trec") as f:
            f.write("q Q0 d 1 1.0 t\n")
        made = tmp_dir(tmp_path / "index")
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted([".index.tmp-%d-efgh" % live.pid, ".other.tmp-1-x", made.name, "run.trec"])
        assert made.name.startswith(f".index.tmp-{os.getpid()}-")
    finally:
        live.kill()
        live.wait()


def test_atomic_open_leaves_nothing_on_error(tmp_path):
    import pytest

    from tctcb._atomic import atomic_open

    (tmp_path / "r.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "r.txt") as f:
            f.write("new, half")
            raise RuntimeError("stop")
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"] and (tmp_path / "r.txt").read_text() == "old"
