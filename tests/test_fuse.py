"""Run-file fusion: N-way rules by hand, equality with the two-way hybrid, and the CLI's bad input."""
import numpy as np
import pytest

from tctcb.eval._runs import read_run, write_run
from tctcb.fuse import fuse_runs
from tctcb.fuse._cli import main
from tctcb.search import fuse_lists, fuse_rrf, fuse_weighted


def test_three_way_rrf_hand_computed():
    lists = [(["a", "b"], [0.9, 0.8]), (["b", "c"], [12.0, 10.0]), (["c", "a"], [5.0, 1.0])]
    ids, scores = fuse_lists(lists, method="rrf", k=10, rrf_k=60)
    expect = {"a": 1 / 61 + 1 / 62, "b": 1 / 62 + 1 / 61, "c": 1 / 62 + 1 / 61}
    assert dict(zip(ids.tolist(), scores)) == pytest.approx(expect)
    assert ids.tolist() == ["a", "b", "c"]  # all tie: docid order
    ids, scores = fuse_lists(lists, method="rrf", weights=[1.0, 2.0, 0.5], k=2, rrf_k=0)
    # a: 1/1 + 0.5/2 = 1.25, b: 1/2 + 2/1 = 2.5, c: 2/2 + 0.5/1 = 1.5
    assert ids.tolist() == ["b", "c"]
    np.testing.assert_allclose(scores, [2.5, 1.5])


def test_three_way_weighted_missing_takes_list_minimum():
    lists = [(["a", "b"], [0.9, 0.8]), (["b", "c"], [12.0, 10.0]), (["d"], [3.0])]
    ids, scores = fuse_lists(lists, method="weighted", weights=[1.0, 0.1, 2.0], k=10)
    # third list has one hit, so its minimum 3.0 goes to a, b, c as well
    expect = {"a": 0.9 + 1.0 + 6, "b": 0.8 + 1.2 + 6, "c": 0.8 + 1.0 + 6, "d": 0.8 + 1.0 + 6}
    assert dict(zip(ids.tolist(), scores)) == pytest.approx(expect)
    assert ids.tolist() == ["b", "a", "c", "d"]


def _reference(lists, weights, method, normalization, rrf_k=60):
    """Plain-Python statement of the rules, document by document."""
    union = sorted({d for ids, _ in lists for d in ids})
    fused = dict.fromkeys(union, 0.0)
    for (ids, scores), w in zip(lists, weights):
        own = dict(zip(ids, scores))
        if method == "rrf":
            ranked = sorted(own, key=lambda d: (-own[d], d))
            for rank, d in enumerate(ranked, 1):
                fused[d] += w * (1.0 / (rrf_k + rank))
            continue
        lo, hi = (min(own.values()), max(own.values())) if own else (0.0, 1.0)
        for d in union:
            s = own.get(d, lo)
            if normalization:
                s = (s - (lo + hi) / 2) / (hi - lo) if hi > lo else 0.0
            fused[d] += w * s
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))


@pytest.mark.parametrize("method, normalization", [("weighted", False), ("weighted", True), ("rrf", False)])
def test_n_lists_match_the_rules_written_out(method, normalization):
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(2, 5))
        lists = []
        for _ in range(n):
            ids = rng.choice(40, size=rng.integers(0, 15), replace=False).astype(str).tolist()
            lists.append((ids, (rng.normal(size=len(ids)) * rng.uniform(0.1, 10)).tolist()))
        weights = rng.uniform(0, 2, size=n).tolist()
        ids, scores = fuse_lists(lists, method=method, weights=weights, k=12, normalization=normalization)
        want = _reference(lists, weights, method, normalization)[:12]
        np.testing.assert_allclose(scores, [s for _, s in want], rtol=1e-12, atol=1e-12)
        assert ids.tolist() == [d for d, _ in want]


def test_two_way_functions_are_the_two_list_case():
    d_ids, d_sc, s_ids, s_sc = ["a", "b", "x"], [0.9, 0.8, 0.1], ["b", "c"], [12.0, 10.0]
    for alpha in (0.0, 0.3, 2.5):
        for norm in (False, True):
            want = _reference([(d_ids, d_sc), (s_ids, s_sc)], [1.0, alpha], "weighted", norm)
            ids, scores = fuse_weighted(d_ids, d_sc, s_ids, s_sc, alpha=alpha, k=10, normalization=norm)
            assert ids.tolist() == [d for d, _ in want]
            np.testing.assert_allclose(scores, [s for _, s in want])
            want = _reference([(d_ids, d_sc), (s_ids, s_sc)], [alpha, 1.0], "weighted", norm)
            ids, scores = fuse_weighted(d_ids, d_sc, s_ids, s_sc, alpha=alpha, k=10, normalization=norm,
                                        weight_on_dense=True)
            assert ids.tolist() == [d for d, _ in want]
    want = _reference([(d_ids, d_sc), (s_ids, s_sc)], [1.0, 1.0], "rrf", False)
    ids, scores = fuse_rrf(d_ids, d_sc, s_ids, s_sc, k=10)
    assert ids.tolist() == [d for d, _ in want]
    np.testing.assert_allclose(scores, [s for _, s in want])


def test_fuse_lists_bad_arguments():
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse_lists([(["a"], [1.0])], method="sum")
    with pytest.raises(ValueError, match="2 weights for 1 lists"):
        fuse_lists([(["a"], [1.0])], weights=[1, 2])
    ids, scores = fuse_lists([([], []), ([], [])])
    assert len(ids) == 0 and len(scores) == 0


def test_fuse_runs_depth_hits_and_missing_queries():
    r1 = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"x": 1.0}}
    r2 = {"q1": {"c": 9.0, "d": 8.0}, "q3": {"y": 1.0, "z": 0.5}}
    out = fuse_runs([r1, r2], method="rrf", depth=2, hits=3, rrf_k=0)
    assert list(out) == ["q1", "q2", "q3"]  # first appearance
    # depth 2: r1 gives a (1), b (1/2); r2 gives c (1), d (1/2); c's rank 3 in r1 is cut
    assert out["q1"] == pytest.approx({"a": 1.0, "c": 1.0, "b": 0.5})
    assert list(out["q1"]) == ["a", "c", "b"]
    assert out["q2"] == {"x": 1.0} and list(out["q3"]) == ["y", "z"]
    with pytest.raises(ValueError, match="at least 2 runs"):
        fuse_runs([r1])
    with pytest.raises(ValueError, match="finite"):
        fuse_runs([r1, r2], weights=[1.0, float("nan")])


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_cli_fuses_trec_and_msmarco_runs(tmp_path, capsys):
    a = _write(tmp_path / "a.trec", ["q1 Q0 d1 1 2.0 x", "q1 Q0 d2 2 1.0 x"])
    b = _write(tmp_path / "b.tsv", ["q1\td2\t1", "q1\td3\t2"])
    out = tmp_path / "out" / "fused.trec"
    assert main(["--runs", str(a), str(b), "--output", str(out), "--rrf-k", "0"]) == 0
    run = read_run(out)
    assert list(run["q1"]) == ["d2", "d1", "d3"]  # d2: 1/2 + 1 ; d1: 1 ; d3: 1/2
    assert run["q1"]["d2"] == pytest.approx(1.5)
    assert "fused 2 runs (rrf): 1 queries -> " in capsys.readouterr().err
    assert main(["--runs", str(a), str(b), "--output", str(out), "--method", "weighted", "--weights", "1", "0",
                 "--output-format", "msmarco", "--quiet"]) == 0
    assert out.read_text().splitlines()[0] == "q1\td1\t1"


@pytest.mark.parametrize("extra, message", [
    (["--weights", "1"], "--weights: 1 weights for 2 runs"),
    (["--normalization"], "--normalization applies to --method weighted only"),
    (["--depth", "0"], "argument --depth: must be >= 1"),
    (["--rrf-k", "-1"], "argument --rrf-k: must be >= 0, got -1"),
])
def test_cli_bad_arguments(tmp_path, capsys, extra, message):
    a = _write(tmp_path / "a.trec", ["q1 Q0 d1 1 2.0 x"])
    out = tmp_path / "fused.trec"
    assert main(["--runs", str(a), str(a), "--output", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_bad_files_name_file_and_line(tmp_path, capsys):
    good = _write(tmp_path / "good.trec", ["q1 Q0 d1 1 2.0 x"])
    bad = _write(tmp_path / "bad.trec", ["q1 Q0 d1 1 2.0 x", "q1 Q0 d2 two 1.0 x"])
    out = tmp_path / "fused.trec"
    assert main(["--runs", str(good), str(bad), "--output", str(out)]) == 2
    assert f"{bad}:2: rank must be an integer" in capsys.readouterr().err
    assert main(["--runs", str(good), str(tmp_path / "nope.trec"), "--output", str(out)]) == 2
    assert "nope.trec: run file not found" in capsys.readouterr().err
    assert main(["--runs", str(good), "--output", str(out)]) == 2
    assert "--runs: fusion needs at least 2 run files, got 1" in capsys.readouterr().err
    assert not out.exists()
    # an existing output is replaced only by a complete run
    write_run({"q9": {"z": 1.0}}, out)
    assert main(["--runs", str(good), str(bad), "--output", str(out)]) == 2
    assert read_run(out) == {"q9": {"z": 1.0}}
