"""tctcb.eval: run files (TREC, MS MARCO) and metrics on tiny hand-made runs with hand-computed values."""
import math

import pytest

from tctcb.eval import (RunFormatError, compare_runs, evaluate, parse_metric, per_query, randomization_test, read_run,
                        sniff_run_format, write_run)
from tctcb.eval._cli import main

# q1: relevant d1 (grade 1) and d3 (grade 2); q2: relevant d2 (grade 1), d4 judged non-relevant.
QRELS = {"q1": {"d1": 1, "d3": 2}, "q2": {"d2": 1, "d4": 0}}
RUN = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d1": 2.0, "d2": 1.0}}


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_metrics_hand_computed():
    got = evaluate(RUN, QRELS, ["AP", "MAP", "RR@10", "P@30", "R@100", "R@1000", "nDCG@10"])
    # AP: q1 (1/1 + 2/3) / 2 = 5/6, q2 1/2 -> 2/3.  RR: (1 + 1/2) / 2.  P@30: (2/30 + 1/30) / 2.
    assert got["AP"] == pytest.approx(2 / 3) and got["MAP"] == pytest.approx(2 / 3)
    assert got["RR@10"] == pytest.approx(0.75)
    assert got["P@30"] == pytest.approx(0.05)
    assert got["R@100"] == pytest.approx(1.0) and got["R@1000"] == pytest.approx(1.0)
    # nDCG@10 (linear gains): q1 DCG 1 + 2/log2(4) = 2, ideal 2 + 1/log2(3); q2 1/log2(3) over 1.
    q1 = 2 / (2 + 1 / math.log2(3))
    q2 = 1 / math.log2(3)
    assert got["nDCG@10"] == pytest.approx((q1 + q2) / 2)


def test_rel_level_binary_only():
    got = evaluate(RUN, QRELS, ["AP", "RR@10", "R@100", "nDCG@10"], rel_level=2)
    # Only d3 (grade 2) of q1 counts: AP 1/3, RR 1/3, R 1; q2 has none: 0.
    assert got["AP"] == pytest.approx(1 / 6)
    assert got["RR@10"] == pytest.approx(1 / 6)
    assert got["R@100"] == pytest.approx(0.5)
    assert got["nDCG@10"] == pytest.approx(evaluate(RUN, QRELS, ["nDCG@10"])["nDCG@10"])  # graded, unchanged


def test_missing_judged_query_scores_zero_and_unjudged_ignored():
    qrels = {**QRELS, "q3": {"d9": 1}}
    run = {**RUN, "q4": {"d1": 1.0}}
    assert evaluate(run, qrels, ["AP"])["AP"] == pytest.approx((5 / 6 + 1 / 2 + 0) / 3)


def test_bad_metric_and_no_overlap():
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("nDCG@ten")
    with pytest.raises(ValueError, match="no query"):
        evaluate({"x": {"d1": 1.0}}, QRELS, ["AP"])


def test_trec_roundtrip_order_and_format(tmp_path):
    path = write_run({"q1": {"a": 1.0, "b": 3.0, "c": 3.0}, "q2": {"z": 0.5}}, tmp_path / "sub" / "r.trec", tag="x")
    lines = path.read_text().splitlines()
    # Descending score; the tie (b, c) keeps its input order.
    assert lines[0] == "q1 Q0 b 1 3.000000 x"
    assert lines[1] == "q1 Q0 c 2 3.000000 x"
    assert lines[2] == "q1 Q0 a 3 1.000000 x"
    assert sniff_run_format(path) == "trec"
    run = read_run(path)
    assert list(run["q1"]) == ["b", "c", "a"] and run["q2"] == {"z": 0.5}
    assert all(isinstance(q, str) for q in run)
    assert [p.name for p in path.parent.iterdir()] == ["r.trec"]  # no temporary file left


def test_msmarco_roundtrip(tmp_path):
    path = write_run(RUN, tmp_path / "r.tsv", format="msmarco")
    assert path.read_text().splitlines()[:2] == ["q1\td1\t1", "q1\td2\t2"]
    assert sniff_run_format(path) == "msmarco"
    run = read_run(path)
    assert run["q1"] == {"d1": 1.0, "d2": 0.5, "d3": pytest.approx(1 / 3)}
    assert evaluate(run, QRELS, ["AP"])["AP"] == pytest.approx(2 / 3)


def test_write_is_atomic(tmp_path):
    path = write_run(RUN, tmp_path / "r.trec")
    before = path.read_text()
    with pytest.raises(ValueError):
        write_run({"q1": {"d1": "not a number"}}, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.trec"]


@pytest.mark.parametrize("text, message", [
    ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0\n", ":2: expected 6 fields"),
    ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 x 1.0 t\n", ":2: rank must be an integer"),
    ("q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n", ":2: document d1 appears twice"),
    ("q1\td1\t1\nq1\td2\n", ":2: expected 3 fields"),
    ("q1\td1\t0\n", ":1: rank must be >= 1"),
    ("just some words here\n", ":1: not a run line"),
    ("\n\n", "empty run file"),
])
def test_malformed_runs_name_file_and_line(tmp_path, text, message):
    path = _write(tmp_path / "bad.run", text)
    with pytest.raises(RunFormatError) as e:
        read_run(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_missing_run_file(tmp_path):
    with pytest.raises(RunFormatError, match="not found"):
        read_run(tmp_path / "nope.run")


def test_cli_prints_metrics(tmp_path, capsys):
    qrels = _write(tmp_path / "qrels.txt", "q1 0 d1 1\nq1 0 d3 2\nq2 0 d2 1\nq2 0 d4 0\n")
    run = write_run(RUN, tmp_path / "r.trec")
    assert main(["--qrels", str(qrels), "--run", str(run), "-m", "AP", "-m", "RR@10"]) == 0
    assert capsys.readouterr().out.splitlines() == ["AP\t0.6667", "RR@10\t0.7500"]
    assert main(["--qrels", str(qrels), "--run", str(run), "-m", "AP", "--rel-level", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["AP\t0.1667"]


def test_cli_bad_input_exit_2(tmp_path, capsys):
    qrels = _write(tmp_path / "qrels.txt", "q1 0 d1 1\n")
    bad = _write(tmp_path / "bad.run", "q1 Q0 d1 1 2.0 t\nq1 Q0 d2\n")
    assert main(["--qrels", str(qrels), "--run", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and f"{bad}:2" in err[0]
    good = write_run(RUN, tmp_path / "r.trec")
    assert main(["--qrels", str(tmp_path / "missing" / "qrels.txt"), "--run", str(good)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["--qrels", str(qrels), "--run", str(good), "-m", "bogus@@"]) == 2
    assert "unknown metric" in capsys.readouterr().err


def test_cli_named_qrels(data_dir, tmp_path, capsys):
    run = write_run({"1": {"CACM-1410": 2.0, "CACM-0001": 1.0}}, tmp_path / "r.trec")
    assert main(["--qrels", "cacm", "--run", str(run), "-m", "RR@10"]) == 0
    assert capsys.readouterr().out.startswith("RR@10\t")
    assert main(["--qrels", "no-such-set", "--run", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-set" in err[0]


# --- paired comparison (tctcb.eval._compare) ---------------------------------------------------------------
def test_per_query_means_equal_evaluate():
    # q3 is judged but missing from the run (scores 0); "qx" is in the run but not judged (ignored).
    qrels = dict(QRELS, q3={"d9": 1})
    run = dict(RUN, qx={"d1": 1.0})
    metrics = ["nDCG@10", "RR@10", "AP", "R@100"]
    pq = per_query(run, qrels, metrics)
    assert set(pq["AP"]) == {"q1", "q2", "q3"}
    assert pq["AP"] == pytest.approx({"q1": 5 / 6, "q2": 0.5, "q3": 0.0})
    agg = evaluate(run, qrels, metrics)
    for m in metrics:
        assert sum(pq[m].values()) / 3 == pytest.approx(agg[m])


def test_randomization_test_exact_small_case_and_bounds():
    import numpy as np

    # Three queries, each A - B = +1: of the 8 sign assignments only all-plus and all-minus reach |mean| 1,
    # so the exact two-sided p-value is 2/8.
    a, b = np.array([2.0, 2.0, 2.0]), np.array([1.0, 1.0, 1.0])
    assert randomization_test(a, b, trials=40_000, seed=1) == pytest.approx(0.25, abs=0.01)
    # Identical runs: every assignment reaches the observed 0, p = 1.
    assert randomization_test(a, a, trials=500) == 1.0
    # Twenty queries all in A's favour: chance 2 / 2**20, so no trial reaches it and p = 1 / (trials + 1).
    assert randomization_test(np.ones(20), np.zeros(20), trials=999, seed=3) == pytest.approx(1 / 1000)
    # Deterministic for a seed.
    rng = np.random.default_rng(0)
    x, y = rng.random(50), rng.random(50)
    assert randomization_test(x, y, trials=300, seed=7) == randomization_test(x, y, trials=300, seed=7)
    with pytest.raises(ValueError, match="same length"):
        randomization_test(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="trials"):
        randomization_test(np.ones(3), np.ones(3), trials=0)


def test_compare_runs_wins_losses_ties():
    # B ranks q1's relevant documents lower; q2 identical.
    run_b = {"q1": {"d2": 3.0, "d1": 2.0, "d3": 1.0}, "q2": {"d1": 2.0, "d2": 1.0}}
    rows = compare_runs(RUN, run_b, QRELS, ["RR@10", "AP"], trials=200)
    rr, ap = rows
    assert (rr.metric, rr.queries, rr.wins, rr.losses, rr.ties) == ("RR@10", 2, 1, 0, 1)
    assert rr.mean_a == pytest.approx(0.75) and rr.mean_b == pytest.approx(0.5)
    assert rr.difference == pytest.approx(0.25)
    assert ap.mean_a == pytest.approx(evaluate(RUN, QRELS, ["AP"])["AP"])
    assert 0 < rr.p_value <= 1
    with pytest.raises(ValueError, match="run B"):
        compare_runs(RUN, {"zz": {"d1": 1.0}}, QRELS, ["AP"])


def test_cli_compare(tmp_path, capsys):
    qrels = _write(tmp_path / "qrels.txt", "q1 0 d1 1\nq1 0 d3 2\nq2 0 d2 1\nq2 0 d4 0\n")
    a = write_run(RUN, tmp_path / "a.trec")
    b = write_run({"q1": {"d2": 3.0, "d1": 2.0, "d3": 1.0}, "q2": {"d1": 2.0, "d2": 1.0}}, tmp_path / "b.trec")
    assert main(["--qrels", str(qrels), "--run", str(a), "--compare", str(b), "-m", "RR@10", "--trials", "100"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("# 2 queries; paired randomisation test, 100 trials")
    assert out[3] == "metric\tA\tB\tA-B\twins\tlosses\tties\tp"
    assert out[4].startswith("RR@10\t0.7500\t0.5000\t+0.2500\t1\t0\t1\t")
    assert main(["--qrels", str(qrels), "--run", str(a), "--compare", str(b), "--trials", "0"]) == 2
    assert "--trials" in capsys.readouterr().err
    assert main(["--qrels", str(qrels), "--run", str(a), "--compare", str(tmp_path / "none.trec")]) == 2
    assert "none.trec" in capsys.readouterr().err
    assert main(["--qrels", str(qrels), "--run", str(a), "--trials", "100"]) == 2  # no --compare
    assert "only apply with --compare" in capsys.readouterr().err
