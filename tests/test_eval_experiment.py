"""tctcb.eval.experiment: many runs, one DataFrame; checked against tctcb.eval's own means (evaluate), per-query
values (per_query) and paired comparisons (compare_runs, ``python -m tctcb.eval --compare``)."""
import math
import random

import numpy as np
import pandas as pd
import pytest

from tctcb._command import UserError
from tctcb.eval import (ExperimentError, RunFormatError, compare_runs, evaluate, experiment, load_qrels, per_query,
                        to_markdown, to_text, write_run)
from tctcb.eval._cli import main as eval_main

QRELS = {"q1": {"d1": 1, "d3": 2}, "q2": {"d2": 1, "d4": 0}, "q3": {"d9": 1}}  # q3: judged, in no run
RUNS = {"good": {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d1": 2.0, "d2": 1.0}, "q4": {"d1": 1.0}},
        "worse": {"q1": {"d2": 3.0, "d1": 2.0, "d3": 1.0}, "q2": {"d1": 2.0, "d2": 1.0}},
        "best": {"q1": {"d3": 3.0, "d1": 2.0}, "q2": {"d2": 2.0, "d1": 1.0}}}
METRICS = ["nDCG@10", "RR@10", "AP", "R@100"]


def _noisy_run(qrels, seed, noise, n_docs=60):
    """A run over every judged query: relevant documents scored by grade plus Gaussian noise, among random others."""
    rng = random.Random(seed)
    docs = sorted({d for j in qrels.values() for d in j})
    run = {}
    for q, judged in qrels.items():
        cands = set(judged) | set(rng.sample(docs, min(n_docs, len(docs))))
        run[q] = {d: judged.get(d, 0) + rng.gauss(0, noise) for d in sorted(cands)}
    return run


def test_means_equal_evaluate_and_columns_follow_pyterrier():
    df = experiment(RUNS, QRELS, METRICS)
    assert list(df.columns) == ["name", *METRICS]
    assert list(df["name"]) == ["good", "worse", "best"]
    for name, run in RUNS.items():
        want = evaluate(run, QRELS, METRICS)
        got = df.set_index("name").loc[name]
        for m in METRICS:
            assert got[m] == pytest.approx(want[m], rel=1e-12, abs=1e-15), (name, m)
    # Hand-computed for one cell: RR@10 of "worse" is (1/2 + 1/2 + 0) / 3.
    assert df.set_index("name").loc["worse", "RR@10"] == pytest.approx(1 / 3)
    assert df.attrs["queries"] == 3


def test_baseline_columns_equal_compare_runs():
    df = experiment(RUNS, QRELS, METRICS, baseline="worse", trials=500, seed=3)
    assert list(df.columns) == ["name", *METRICS] + [f"{m} {s}" for m in METRICS for s in ("+", "-", "p-value")]
    rows = df.set_index("name")
    base = rows.loc["worse"]
    assert all(pd.isna(base[f"{m} {s}"]) for m in METRICS for s in ("+", "-", "p-value"))
    for name in ("good", "best"):
        for c in compare_runs(RUNS[name], RUNS["worse"], QRELS, METRICS, trials=500, seed=3):
            assert rows.loc[name, c.metric] == pytest.approx(c.mean_a, rel=1e-12)
            assert rows.loc[name, f"{c.metric} +"] == c.wins and rows.loc[name, f"{c.metric} -"] == c.losses
            assert rows.loc[name, f"{c.metric} p-value"] == c.p_value
    assert rows.loc["good", "RR@10 +"] == 1 and rows.loc["good", "RR@10 -"] == 0  # q1 wins, q2 ties, q3 ties at 0
    assert df.attrs["baseline"] == "worse" and df.attrs["trials"] == 500 and df.attrs["seed"] == 3
    # The baseline by position names the same system (PyTerrier's baseline=1).
    by_pos = experiment(RUNS, QRELS, METRICS, baseline=1, trials=500, seed=3)
    pd.testing.assert_frame_equal(by_pos, df)


def test_real_pair_on_builtin_qrels_matches_cli_compare(data_dir, cache_dir, tmp_path, capsys):
    """Two runs on ADI's 35 judged queries (qrels by name), given as files: frame == evaluate and --compare."""
    qrels = load_qrels("adi")
    a = write_run(_noisy_run(qrels, seed=1, noise=0.6), tmp_path / "sharp.trec")
    b = write_run(_noisy_run(qrels, seed=2, noise=1.5), tmp_path / "blurred.trec")
    metrics = ["nDCG@10", "MAP", "R@100"]
    df = experiment([a, b], "adi", metrics, baseline="blurred")  # a list of paths: named by file stem
    assert list(df["name"]) == ["sharp", "blurred"] and df.attrs["queries"] == 35
    rows = df.set_index("name")
    from tctcb.eval import read_run

    for name, path in (("sharp", a), ("blurred", b)):
        want = evaluate(read_run(path), qrels, metrics)
        assert [rows.loc[name, m] for m in metrics] == pytest.approx([want[m] for m in metrics], rel=1e-12)
    assert rows.loc["sharp", "nDCG@10"] > rows.loc["blurred", "nDCG@10"]  # less noise ranks better
    assert eval_main(["--qrels", "adi", "--run", str(a), "--compare", str(b)] + [x for m in metrics for x in ("-m", m)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "10000 trials, seed 0" in out[2]  # the CLI's defaults are experiment's
    for line in out[4:]:
        metric, mean_a, mean_b, _, wins, losses, _, p = line.split("\t")
        assert float(mean_a) == round(rows.loc["sharp", metric], 4) and float(mean_b) == round(rows.loc["blurred", metric], 4)
        assert (int(wins), int(losses)) == (rows.loc["sharp", f"{metric} +"], rows.loc["sharp", f"{metric} -"])
        assert float(p) == round(rows.loc["sharp", f"{metric} p-value"], 4)
    assert 0 < rows.loc["sharp", "nDCG@10 p-value"] < 0.05  # a real difference on 35 queries


def test_per_query_frame_equals_per_query():
    long = experiment(RUNS, QRELS, METRICS, per_query=True)
    assert list(long.columns) == ["name", "qid", "measure", "value"]
    assert len(long) == len(RUNS) * len(QRELS) * len(METRICS)
    for name, run in RUNS.items():
        want = per_query(run, QRELS, METRICS)
        got = long[long["name"] == name]
        assert {(m, q): v for q, m, v in zip(got["qid"], got["measure"], got["value"])} == \
            {(m, q): v for m in METRICS for q, v in want[m].items()}
    # Its means are the summary frame's.
    means = long.groupby(["name", "measure"], sort=False)["value"].mean().unstack()
    summary = experiment(RUNS, QRELS, METRICS).set_index("name")
    assert np.allclose(means.loc[list(RUNS), METRICS].to_numpy(), summary[METRICS].to_numpy(), rtol=1e-12)


def test_paths_and_dicts_mix_and_rel_level(tmp_path):
    path = write_run(RUNS["good"], tmp_path / "good.trec")
    qrels_file = tmp_path / "qrels.txt"
    qrels_file.write_text("".join(f"{q} 0 {d} {g}\n" for q, j in QRELS.items() for d, g in j.items()))
    mixed = experiment({"good": path, "worse": RUNS["worse"]}, qrels_file, ["AP", "nDCG@10"], rel_level=2)
    direct = experiment({"good": RUNS["good"], "worse": RUNS["worse"]}, QRELS, ["AP", "nDCG@10"], rel_level=2)
    pd.testing.assert_frame_equal(mixed, direct)
    assert mixed.loc[0, "AP"] == pytest.approx(evaluate(RUNS["good"], QRELS, ["AP"], rel_level=2)["AP"])
    assert mixed.loc[0, "AP"] != pytest.approx(evaluate(RUNS["good"], QRELS, ["AP"])["AP"])  # rel_level is applied


def test_bad_input_gives_one_clear_error(tmp_path):
    with pytest.raises(ExperimentError, match="baseline 'nope' is not one of the runs: good, worse, best"):
        experiment(RUNS, QRELS, ["AP"], baseline="nope")
    with pytest.raises(ExperimentError, match="out of range"):
        experiment(RUNS, QRELS, ["AP"], baseline=3)
    notrun = tmp_path / "notes.txt"
    notrun.write_text("these are my notes about the experiment\n")
    with pytest.raises(RunFormatError, match=r"notes\.txt:1: not a run line"):
        experiment({"a": RUNS["good"], "b": notrun}, QRELS, ["AP"])
    with pytest.raises(RunFormatError, match="run file not found"):
        experiment([tmp_path / "missing.trec"], QRELS, ["AP"])
    with pytest.raises(UserError, match="no query of run 'other' is in the qrels"):
        experiment({"a": RUNS["good"], "other": {"zz": {"d1": 1.0}}}, QRELS, ["AP"])
    with pytest.raises(UserError, match="unknown metric 'nDCG@ten'"):
        experiment(RUNS, QRELS, ["nDCG@ten"])
    with pytest.raises(ExperimentError, match="named 'r' by their stem"):
        experiment([tmp_path / "a" / "r.trec", tmp_path / "b" / "r.trec"], QRELS, ["AP"])
    with pytest.raises(ExperimentError, match="wrap one run"):
        experiment(str(notrun), QRELS, ["AP"])
    with pytest.raises(ExperimentError, match="run 'x': expected a run file path"):
        experiment({"x": 3}, QRELS, ["AP"])
    with pytest.raises(ExperimentError, match="no runs"):
        experiment({}, QRELS, ["AP"])
    with pytest.raises(ExperimentError, match="non-empty list"):
        experiment(RUNS, QRELS, "AP")
    # All of them are user mistakes: a @command CLI prints them as one error line.
    for exc in (ExperimentError, RunFormatError):
        assert issubclass(exc, UserError)


def test_to_markdown_and_text():
    df = experiment(RUNS, QRELS, ["RR@10", "AP"], baseline="worse", trials=100)
    md = to_markdown(df[["name", "RR@10", "RR@10 +", "RR@10 p-value"]]).splitlines()
    assert md[0] == "| name | RR@10 | RR@10 + | RR@10 p-value |"
    assert md[1] == "|---|---:|---:|---:|"
    assert md[2] == "| good | 0.5000 | 1 | 1.0000 |"  # one query differs: every sign flip is as extreme
    assert md[3] == "| worse | 0.3333 | – | – |"
    text = to_text(df[["name", "AP"]], formats={"AP": ".2f"}, marks={(1, "AP"): "*"}).splitlines()
    # AP: good (5/6 + 1/2 + 0)/3, worse ((1/2 + 2/3)/2 + 1/2 + 0)/3, best (1 + 1 + 0)/3
    assert text == ["name      AP", "-----  -----", "good    0.44", "worse  0.36*", "best    0.67"]
    assert math.isclose(df.loc[0, "AP"], (5 / 6 + 1 / 2) / 3)
    with pytest.raises(ValueError, match="lacks"):
        to_markdown(df, formats={"nope": ".1f"})


def test_cli_several_runs_print_experiments_table(tmp_path, capsys):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"{q} 0 {d} {g}\n" for q, j in QRELS.items() for d, g in j.items()))
    paths = [str(write_run(RUNS[n], tmp_path / f"{n}.trec")) for n in ("good", "worse", "best")]
    runs = [x for p in paths for x in ("--run", p)]
    assert eval_main(["--qrels", str(qrels), *runs, "-m", "RR@10", "-m", "AP", "--format", "csv"]) == 0
    got = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    pd.testing.assert_frame_equal(got, experiment(dict(zip(("good", "worse", "best"), paths)), QRELS, ["RR@10", "AP"]))
    # --baseline by file or by name; the table is experiment's, the header says the test.
    assert eval_main(["--qrels", str(qrels), *runs, "-m", "RR@10", "--baseline", paths[1], "--trials", "200"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "# 3 queries; against worse: paired randomisation test, 200 trials, seed 0"
    assert out[1].split() == ["name", "RR@10", "RR@10", "+", "RR@10", "-", "RR@10", "p-value"]
    want = compare_runs(RUNS["good"], RUNS["worse"], QRELS, ["RR@10"], trials=200)[0]
    assert out[3].split() == ["good", "0.5000", str(want.wins), str(want.losses), f"{want.p_value:.4f}"]
    assert out[4].split() == ["worse", "0.3333", "-", "-", "-"]
    assert eval_main(["--qrels", str(qrels), *runs, "-m", "RR@10", "--baseline", "worse", "--format", "markdown"]) == 0
    assert "| worse | 0.3333 | – | – | – |" in capsys.readouterr().out
    # Mistakes: one error line, exit 2.
    for argv, msg in (([*runs, "--baseline", "nope"], "--baseline nope: not one of the --run files or their names "
                                                       "(good, worse, best)"),
                      ([*runs, "--compare", paths[0]], "with several, use --baseline"),
                      (["--run", paths[0], "--baseline", "good"], "apply to several --run files"),
                      ([*runs, "--run", str(qrels)], "qrels.txt:1: not a run line")):
        assert eval_main(["--qrels", str(qrels), *argv]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err, err
