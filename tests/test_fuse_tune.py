"""Choosing fusion weights on dev runs (tctcb.fuse._tune and ``python -m tctcb.fuse --tune-weights-on``)."""
import random

import pytest

from tctcb.eval import evaluate
from tctcb.eval._runs import read_run, write_run
from tctcb.fuse import fuse_runs
from tctcb.fuse._cli import main
from tctcb.fuse._tune import DEFAULT_WEIGHT_GRID, tune_weights


def _collection(seed, queries=30, docs=40):
    """Qrels and three runs over the same documents: one informative, one weakly so, one noise."""
    rng = random.Random(seed)
    qrels, runs = {}, [{}, {}, {}]
    for q in range(queries):
        qid = f"q{q}"
        rel = {f"d{d}": rng.choice([1, 2]) for d in rng.sample(range(docs), 4)}
        qrels[qid] = rel
        for r, signal in enumerate((2.0, 0.7, 0.0)):
            runs[r][qid] = {f"d{d}": signal * rel.get(f"d{d}", 0) + rng.gauss(0, 1) for d in range(docs)}
    return qrels, runs


def _score(runs, qrels, weights, **kw):
    return evaluate(fuse_runs(runs, weights=weights, **kw), qrels, ["nDCG@10"])["nDCG@10"]


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_tuned_weights_are_a_coordinate_optimum_and_score_what_they_claim(method):
    qrels, runs = _collection(seed=3)
    t = tune_weights(runs, qrels, method=method, hits=40, rounds=6)
    assert t.value == pytest.approx(_score(runs, qrels, t.weights, method=method, hits=40))
    assert t.equal == pytest.approx(_score(runs, qrels, [1.0, 1.0, 1.0], method=method, hits=40))
    assert t.value > t.equal  # the noise run at weight 1 costs something on this collection
    assert t.weights[2] < t.weights[0]  # noise weighs less than the informative run
    # no single weight moved along the grid does better (what coordinate ascent promises once it stops)
    assert t.converged
    for i in range(3):
        for g in DEFAULT_WEIGHT_GRID:
            w = list(t.weights)
            w[i] = g
            if any(w):
                assert _score(runs, qrels, w, method=method, hits=40) <= t.value + 1e-4
    # every accepted step improved on the one before
    values = [t.equal] + [v for _, v in t.steps]
    assert all(b > a + 1e-4 for a, b in zip(values, values[1:]))
    assert list(t.steps[-1][0]) == t.weights


def test_identical_runs_keep_equal_weights_and_ties_go_to_the_current_weights():
    qrels, runs = _collection(seed=5)
    t = tune_weights([runs[0], runs[0]], qrels, grid=[0.0, 1.0, 2.0])
    # w * (1/(k+r)) for one list scaled, either way the ranking is the same: nothing beats equal weights
    assert t.weights == [1.0, 1.0] and t.steps == [] and t.rounds == 1 and t.converged
    assert t.value == t.equal
    assert t.tried == 5  # (1,1), (0,1), (2,1), (1,0), (1,2); (0,0) is never tried


def test_tune_weights_refuses_bad_input():
    qrels, runs = _collection(seed=1)
    with pytest.raises(ValueError, match="at least 2 runs"):
        tune_weights(runs[:1], qrels)
    one_round = tune_weights(runs, qrels, rounds=1)
    assert one_round.rounds == 1 and not one_round.converged and one_round.steps  # the limit, not convergence
    with pytest.raises(ValueError, match="empty weight grid"):
        tune_weights(runs, qrels, grid=[])
    with pytest.raises(ValueError, match="finite and >= 0"):
        tune_weights(runs, qrels, grid=[1.0, -0.5])
    with pytest.raises(ValueError, match="needs a value > 0"):
        tune_weights(runs, qrels, grid=[0.0])
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        tune_weights(runs, qrels, rounds=0)
    with pytest.raises(ValueError, match="no query of dev run 2 is in the qrels"):
        tune_weights([runs[0], {"other": {"d1": 1.0}}], qrels)


def _write_qrels(path, qrels):
    path.write_text("".join(f"{q} 0 {d} {g}\n" for q, docs in qrels.items() for d, g in docs.items()))
    return path


def test_cli_tunes_on_dev_runs_and_fuses_the_test_runs_with_the_choice(tmp_path, capsys):
    qrels, dev = _collection(seed=7, queries=20)
    _, test = _collection(seed=8, queries=10)
    test = [{f"t{q[1:]}": docs for q, docs in run.items()} for run in test]  # other queries than dev's
    dev_paths, test_paths = [], []
    for i, (d, t) in enumerate(zip(dev, test)):
        dev_paths.append(tmp_path / f"dev{i}.trec")
        test_paths.append(tmp_path / f"test{i}.trec")
        write_run(d, dev_paths[-1])
        write_run(t, test_paths[-1])
    qrels_path = _write_qrels(tmp_path / "dev.qrels", qrels)
    out = tmp_path / "fused.trec"
    assert main(["--runs", *map(str, test_paths), "--dev-runs", *map(str, dev_paths),
                 "--tune-weights-on", str(qrels_path), "--method", "weighted", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = tune_weights([read_run(p) for p in dev_paths], qrels, method="weighted")
    shown = " ".join(f"{w:g}" for w in expected.weights)
    assert printed.startswith(f"tuned weights: {shown} (nDCG@10 {expected.value:.4f} on {qrels_path}, "
                              f"{expected.equal:.4f} with equal weights;")
    want = fuse_runs([read_run(p) for p in test_paths], method="weighted", weights=expected.weights)
    got = read_run(out)
    assert list(got) == list(want)
    for q in want:
        assert list(got[q]) == list(want[q])


@pytest.mark.parametrize("extra, message", [
    (["--dev-runs", "A", "A"], "--dev-runs only applies with --tune-weights-on QRELS"),
    (["--weight-grid", "0,1"], "--weight-grid only applies with --tune-weights-on QRELS"),
    (["--tune-weights-on", "Q"], "--tune-weights-on needs --dev-runs"),
    (["--tune-weights-on", "Q", "--dev-runs", "A"], "--dev-runs: 1 dev runs for 2 runs"),
    (["--tune-weights-on", "Q", "--dev-runs", "A", "A", "--weights", "1", "2"], "exclude each other"),
    (["--tune-weights-on", "Q", "--dev-runs", "A", "A", "--tune-rounds", "0"], "argument --tune-rounds: must be >= 1"),
    (["--tune-weights-on", "Q", "--dev-runs", "A", "A", "--weight-grid", "1,x"], "--weight-grid: comma-separated"),
    (["--tune-weights-on", "Q", "--dev-runs", "A", "A", "--weight-grid", "0,-1"],
     "--tune-weights-on Q: weights in the grid must be finite and >= 0"),
    (["--tune-weights-on", "OTHER", "--dev-runs", "A", "A"], "no query of dev run 1 is in the qrels"),
    (["--tune-weights-on", "MISSING/x.qrels", "--dev-runs", "A", "A"], "x.qrels not found"),
    (["--tune-weights-on", "Q", "--dev-runs", "A", "A", "--tune-metric", "nDCG@ten"], "--tune-metric: unknown metric"),
    (["--tune-weights-on", "Q", "--dev-runs", "A", "BAD"], "bad.trec:2: rank must be an integer"),
])
def test_cli_tuning_bad_arguments(tmp_path, capsys, extra, message):
    a = tmp_path / "a.trec"
    write_run({"q1": {"d1": 2.0, "d2": 1.0}}, a)
    _write_qrels(tmp_path / "q.qrels", {"q1": {"d1": 1}})
    (tmp_path / "bad.trec").write_text("q1 Q0 d1 1 2.0 x\nq1 Q0 d2 two 1.0 x\n")
    _write_qrels(tmp_path / "other.qrels", {"q9": {"d1": 1}})
    names = {"A": str(a), "Q": str(tmp_path / "q.qrels"), "OTHER": str(tmp_path / "other.qrels"),
             "MISSING/x.qrels": str(tmp_path / "missing" / "x.qrels"),
             "BAD": str(tmp_path / "bad.trec")}
    extra = [names.get(x, x) for x in extra]
    message = message.replace("Q:", f"{names['Q']}:")
    out = tmp_path / "fused.trec"
    assert main(["--runs", str(a), str(a), "--output", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
