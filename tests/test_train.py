"""Trainer units: losses, settings, training data checks, batches, KD candidates, and the loop on tiny
randomly-initialised BERTs (loss goes down, resume = uninterrupted run, refused resume, NaN stop)."""
import json
import math

import pytest
import torch

from tctcb.models import ColBERT, ColBERTConfig, TctColBert
from tctcb.train import DistillConfig, TeacherConfig, Trainer, TrainingData, TrainingDataError, TrainingError
from tctcb.train._config import build_parser, config_from_args, settings_diff
from tctcb.train import kd_candidates
from tctcb.train._steps import precomputed_scores
from tiny_models import make_tiny_bert
from tctcb.train.losses import DistillKLDivLoss, InBatchCrossEntropyLoss

# ---------------------------------------------------------------- losses


def test_ce_hand_computed_and_exclusion():
    ce = InBatchCrossEntropyLoss()
    s = torch.tensor([[3.0, 1.0, 3.0]])
    # all three columns: -log(e^3 / (2 e^3 + e)) ; column 2 excluded: -log(e^3 / (e^3 + e)) = log(1 + e^-2)
    assert ce(s, torch.tensor([0])).item() == pytest.approx(-math.log(math.exp(3) / (2 * math.exp(3) + math.e)), abs=1e-5)
    ex = torch.tensor([[False, False, True]])
    assert ce(s, torch.tensor([0]), ex).item() == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-5)
    with pytest.raises(ValueError, match="own positive is excluded"):
        ce(s, torch.tensor([2]), ex)
    assert ce.get_config_dict()["paper"] == "arXiv:2010.11386"


def test_kl_hand_computed():
    kl = DistillKLDivLoss(temperature=0.5)
    s, t = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    pt = torch.softmax(torch.tensor([2.0, 0.0]), 0)  # teacher / 0.5
    expected = float((pt * (pt.log() - math.log(0.5))).sum())
    assert kl(s, t).item() == pytest.approx(expected, abs=1e-6)
    # a non-candidate column changes nothing
    s3, t3 = torch.tensor([[0.0, 0.0, 9.0]]), torch.tensor([[1.0, 0.0, -9.0]])
    assert kl(s3, t3, torch.tensor([[True, True, False]])).item() == pytest.approx(expected, abs=1e-6)
    # tau^2 scaling only when the student is softened too
    both = DistillKLDivLoss(temperature=0.5, student_temperature=0.5)
    assert both.get_config_dict()["scale"] == 0.25 and kl.get_config_dict()["scale"] == 1.0
    assert DistillKLDivLoss(1.0)(t, t).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="temperatures"):
        DistillKLDivLoss(0)

# ---------------------------------------------------------------- settings


def test_parser_and_settings_diff():
    args = build_parser().parse_args(["distill", "--collection", "adi", "--output", "x", "--kd", "pairwise",
                                      "--gamma", "0.3", "--quiet"])
    cfg = config_from_args(args)
    assert isinstance(cfg, DistillConfig) and cfg.kd == "pairwise" and cfg.gamma == 0.3 and cfg.quiet
    other = DistillConfig(collection="adi", output_dir="y", kd="pairwise", gamma=0.5, quiet=False, teacher_cache_mb=0)
    from dataclasses import asdict

    diff = settings_diff(asdict(cfg), asdict(other))
    assert diff == ["  gamma: 0.3 (checkpoint) vs 0.5 (now)"]  # output dir, --quiet, the teacher cache don't count
    with pytest.raises(SystemExit):
        build_parser().parse_args(["distill", "--collection", "adi", "--output", "x", "--kd", "tight"])

# ---------------------------------------------------------------- data

CORPUS = {f"d{i}": f"document number {i} about {'cats' if i % 2 else 'dogs'} and more" for i in range(12)}
TOPICS = {f"q{i}": f"query {i} {'cats' if i % 2 else 'dogs'}" for i in range(8)}
QRELS = {f"q{i}": {f"d{i}": 1, f"d{(i + 2) % 12}": 1, f"d{(i + 5) % 12}": 0} for i in range(8)}


def _data(**kw):
    return TrainingData(CORPUS, TOPICS, QRELS, log=lambda m: None, **kw)


def test_missing_ids_counted_and_skipped():
    msgs = []
    qrels = {**QRELS, "q-unknown": {"d1": 1}, "q0": {"d0": 1, "d-missing": 1}}
    data = TrainingData(CORPUS, TOPICS, qrels, log=msgs.append)
    assert data.skipped == {"pairs": 17, "missing_query": 1, "missing_doc": 1}
    assert "skipped 1 of 17" in msgs[0] and "1 whose doc id is not in the corpus" in msgs[0]
    assert data.positives["q0"] == ["d0"] and "q-unknown" not in data.positives


def test_empty_split_is_an_error():
    with pytest.raises(TrainingDataError, match="empty split"):
        TrainingData(CORPUS, TOPICS, {}, log=lambda m: None)
    with pytest.raises(TrainingDataError, match="no usable training pairs"):
        TrainingData(CORPUS, TOPICS, {"zz": {"d1": 1}}, log=lambda m: None)
    with pytest.raises(TrainingDataError, match="batch size 9 is larger"):
        _data().batch(0, 9, seed=1)


def test_batches_deterministic_and_negatives_never_judged():
    data = _data()
    data.set_negatives({q: sorted(CORPUS) for q in TOPICS})  # every doc "ranked", judged ones must be dropped
    for q in data.qids:
        assert not set(data.negatives[q]) & data.judged[q]
    a = [data.batch(s, 4, seed=7, num_negatives=2) for s in range(5)]
    b = [data.batch(s, 4, seed=7, num_negatives=2) for s in range(5)]
    assert a == b and a[0] != data.batch(0, 4, seed=8, num_negatives=2)
    assert len({e.qid for e in a[0]}) == 4 and all(len(e.negatives) == 2 for e in a[0])
    # the two batches of one epoch cover all 8 queries once
    assert sorted(e.qid for s in (0, 1) for e in a[s]) == sorted(TOPICS)
    ex = data.exclude_mask(a[0])
    docids = [d for e in a[0] for d in e.docids]
    for i, e in enumerate(a[0]):
        assert not ex[i, i * 3]
        for j, d in enumerate(docids):
            assert bool(ex[i, j]) == (j != i * 3 and d in data.judged[e.qid])


def test_kd_candidates_and_precomputed_lookup():
    data = _data()
    ex = data.batch(0, 4, seed=1, num_negatives=1)
    full = kd_candidates("in-batch", ex, 0, 1, 0)
    pair = kd_candidates("pairwise", ex, 0, 1, 0)
    sub = kd_candidates("in-batch", ex, 3, 1, 0)
    assert full.all() and pair.sum().item() == 8 and sub.sum(1).tolist() == [5] * 4 and (sub >= pair).all()
    table = {(ex[0].qid, ex[0].positive): 2.5}
    t, have = precomputed_scores(table, ex, full)
    assert have.sum().item() == 1 and t[0, 0].item() == 2.5

# ---------------------------------------------------------------- loop on tiny models


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny"), hidden=32, layers=1)


def _cfg(cls, tmp_path, **kw):
    base = dict(collection="synthetic", output_dir=str(tmp_path / "run"), batch_size=4, max_steps=4, lr=1e-3,
                warmup_ratio=0.0, save_every=2, seed=3, quiet=True, passage_length=16, dev_split="none")
    base.update(kw)
    return cls(**base)


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_teacher_loss_decreases(tiny_dir, tmp_path):
    data = _data()
    cfg = _cfg(TeacherConfig, tmp_path, max_steps=12, lr=3e-3)
    tr = Trainer(cfg, data, ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0))
    tr.model.eval()  # no dropout: the same batch must score better after training on it
    fixed = data.batch(0, 4, cfg.seed)
    before = float(tr.loss_for(fixed, 0).loss.detach())
    tr.train()
    after = float(tr.loss_for(fixed, 0).loss.detach())
    assert after < before
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 13))
    assert ColBERT.from_pretrained(tmp_path / "run" / "model").config.dim == 8


def test_resume_matches_uninterrupted_and_refuses_other_settings(tiny_dir, tmp_path, monkeypatch):
    data = _data()
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0)
    straight = Trainer(_cfg(DistillConfig, tmp_path / "a", teacher="t"), data, TctColBert.from_pretrained(tiny_dir),
                       teacher=teacher)
    straight.train()
    half = Trainer(_cfg(DistillConfig, tmp_path / "b", teacher="t"), data, TctColBert.from_pretrained(tiny_dir),
                   teacher=teacher)
    real = half.loss_for

    def killed(examples, step):  # the run dies in step 3, after the checkpoint of step 2
        if step == 2:
            raise KeyboardInterrupt
        return real(examples, step)

    monkeypatch.setattr(half, "loss_for", killed)
    with pytest.raises(KeyboardInterrupt):
        half.train()
    resumed = Trainer(_cfg(DistillConfig, tmp_path / "b", teacher="t"), data, TctColBert.from_pretrained(tiny_dir),
                      teacher=teacher)
    resumed.resume_from(tmp_path / "b" / "run" / "checkpoints" / "step-0000002", TctColBert.from_pretrained)
    assert resumed.step == 2
    resumed.train()
    assert torch.allclose(_flat(straight.model), _flat(resumed.model), atol=1e-6)
    other = Trainer(_cfg(DistillConfig, tmp_path / "b", teacher="t", gamma=0.9), data,
                    TctColBert.from_pretrained(tiny_dir), teacher=teacher)
    with pytest.raises(TrainingError, match=r"different settings(.|\n)*gamma: 0.5 \(checkpoint\) vs 0.9 \(now\)"):
        other.resume_from(tmp_path / "b" / "run" / "checkpoints" / "step-0000004", TctColBert.from_pretrained)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_dir, tmp_path, monkeypatch):
    data = _data()
    tr = Trainer(_cfg(DistillConfig, tmp_path, kd="none", max_steps=6), data, TctColBert.from_pretrained(tiny_dir))
    real = tr.loss_for

    def poisoned(examples, step):
        out = real(examples, step)
        if step == 3:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(tr, "loss_for", poisoned)
    with pytest.raises(TrainingError, match=r"loss is nan at step 4 \(batch 3, queries \['q.*checkpoints/step-0000002"):
        tr.train()
    cks = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert cks == ["step-0000002"]
    TctColBert.from_pretrained(tmp_path / "run" / "checkpoints" / "step-0000002" / "model")


def test_kd_in_batch_agreement_logged(tiny_dir, tmp_path):
    data = _data()
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0)
    tr = Trainer(_cfg(DistillConfig, tmp_path, teacher="t", max_steps=2, subsample=2), data,
                 TctColBert.from_pretrained(tiny_dir), teacher=teacher)
    tr.train()
    recs = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in recs if "loss" in r]
    assert all({"ce", "kl", "agreement", "lr"} <= set(r) for r in steps)
    assert all(0.0 <= r["agreement"] <= 1.0 for r in steps)
    assert steps[0]["loss"] == pytest.approx(0.5 * steps[0]["ce"] + 0.5 * steps[0]["kl"], rel=1e-5)


def test_precomputed_scores_train_as_the_live_pairwise_teacher(tiny_dir, tmp_path):
    """Loose coupling reads from a file exactly the scores the live pairwise teacher computes inside the
    step, so the two runs end with the same student (and in-batch KD, which sees more pairs, does not)."""
    from tctcb.train import precompute_teacher_scores
    from tctcb.train._retrieval import read_scores
    from tctcb.train._trainer import planned_batch

    data = _data()
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0)
    kw = dict(teacher="t", kd="pairwise", negatives="bm25", num_negatives=2, max_steps=4)
    live = Trainer(_cfg(DistillConfig, tmp_path / "live", **kw), data, TctColBert.from_pretrained(tiny_dir),
                   teacher=teacher)
    live.train()
    cfg = _cfg(DistillConfig, tmp_path / "pre", teacher_scores="precomputed", **kw)
    batches = [planned_batch(cfg, data, s) for s in range(cfg.max_steps)]
    path = tmp_path / "scores.tsv"
    precompute_teacher_scores(teacher, data, batches, path)
    table = read_scores(path)
    assert len(table) == len({(e.qid, d) for b in batches for e in b for d in e.docids})
    pre = Trainer(cfg, data, TctColBert.from_pretrained(tiny_dir), table=table)
    pre.train()
    assert torch.allclose(_flat(live.model), _flat(pre.model), atol=1e-5)
    tight = Trainer(_cfg(DistillConfig, tmp_path / "tight", **{**kw, "kd": "in-batch"}), data,
                    TctColBert.from_pretrained(tiny_dir), teacher=teacher)
    tight.train()
    assert not torch.allclose(_flat(live.model), _flat(tight.model), atol=1e-5)
    logs = [[json.loads(x) for x in (tmp_path / n / "run" / "log.jsonl").read_text().splitlines()]
            for n in ("live", "pre")]
    kl = [[r["kl"] for r in log if "kl" in r] for log in logs]
    assert len(kl[0]) == 4 and kl[0] == pytest.approx(kl[1], rel=1e-4, abs=1e-6)


def test_precomputed_scores_batched_and_cached_equal_one_pair_at_a_time(tiny_dir, tmp_path):
    """The precomputation scores queries in groups (one teacher call per group, passages through the cache):
    every pair gets the score the teacher gives it alone, and no pair is scored twice."""
    from tctcb.models import PassageVectorCache
    from tctcb.train import precompute_teacher_scores
    from tctcb.train._steps import score_pairs
    from tctcb.train._trainer import planned_batch

    data = _data()
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0)
    cfg = _cfg(DistillConfig, tmp_path, teacher="t", kd="pairwise", teacher_scores="precomputed",
               negatives="bm25", num_negatives=2, max_steps=6)
    batches = [planned_batch(cfg, data, s) for s in range(cfg.max_steps)]
    calls = []
    encode_query = teacher.encode_query
    teacher.encode_query = lambda qs: (calls.append(len(qs)), encode_query(qs))[1]
    cache = PassageVectorCache(teacher, max_mb=64)
    table = precompute_teacher_scores(teacher, data, batches, tmp_path / "a.tsv", cache=cache, pairs_per_call=10)
    pairs = {(e.qid, d) for b in batches for e in b for d in e.docids}
    assert set(table) == pairs
    queries = {q for q, _ in pairs}
    assert sum(calls) == len(queries) and 1 < len(calls) < len(queries)  # grouped, each query once
    assert cache.misses == len({d for _, d in pairs})  # each passage encoded once
    teacher.encode_query = encode_query
    alone = {(q, d): float(score_pairs(teacher, [data.topics[q]], [data.corpus[d]])[0, 0]) for q, d in pairs}
    assert all(math.isfinite(v) for v in table.values())
    assert [table[k] for k in sorted(pairs)] == pytest.approx([alone[k] for k in sorted(pairs)], rel=1e-4, abs=1e-5)
    uncached = precompute_teacher_scores(teacher, data, batches, tmp_path / "b.tsv")
    assert [uncached[k] for k in sorted(pairs)] == pytest.approx([table[k] for k in sorted(pairs)], rel=1e-4, abs=1e-5)


class _ScriptedDev:
    """Stands in for DevSet: returns scripted dev nDCG@10 values, one per evaluation."""
    name, qids = "scripted-dev", ["q0"]

    def __init__(self, scores):
        self.scores, self.calls = list(scores), 0

    def evaluate_teacher(self, model):
        self.calls += 1
        return self.scores.pop(0)


def test_early_stopping_keeps_best_dev_model(tiny_dir, tmp_path):
    data = _data()
    dev = _ScriptedDev([0.5, 0.4, 0.3, 0.9])
    cfg = _cfg(TeacherConfig, tmp_path, max_steps=8, eval_every=2, patience=2, save_every=100)
    tr = Trainer(cfg, data, ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0), dev=dev)
    summary = tr.train()
    assert dev.calls == 3 and summary["step"] == 6 and "early stop at step 6" in summary["stopped"]
    assert summary["model_from"] == "best dev step 2" and summary["best_dev_nDCG@10"] == 0.5
    recs = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["nDCG@10"] for r in recs if r.get("event") == "dev"] == [0.5, 0.4, 0.3]
    assert (tmp_path / "run" / "checkpoints" / "step-0000006").is_dir()  # the stop writes a checkpoint
    ColBERT.from_pretrained(tmp_path / "run" / "model")


# ---------------------------------------------------------------- anchor (--anchor-weight)


def test_anchor_loss_hand_computed():
    from tctcb.train._anchor import anchor_loss

    s = torch.tensor([[3.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, -1.0]]) / torch.tensor([[1.0], [1.0], [math.sqrt(2)]])
    # cosines 1, 0, -1 -> (0 + 1 + 2) / 3; the student's scale does not matter
    assert float(anchor_loss(s, a)) == pytest.approx(1.0)
    assert float(anchor_loss(5 * s, a)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same hidden size"):
        anchor_loss(s, torch.zeros(3, 4))


def test_anchor_encodes_the_sentence_transformers_form(tiny_dir):
    from tctcb.encode._encoders import SentenceTransformerEncoder
    from tctcb.train._anchor import StAnchor

    texts = ["short text", "a longer text about bones and vitamin d", "x"]
    ours = StAnchor.from_pretrained(tiny_dir).encode(texts, max_length=64)
    ref = SentenceTransformerEncoder(tiny_dir).encode(texts)
    assert torch.allclose(ours, torch.from_numpy(ref), atol=1e-5)
    assert torch.allclose(ours.norm(dim=1), torch.ones(3), atol=1e-5)


def test_anchor_term_in_the_loss_and_the_anchor_stays_frozen(tiny_dir, tmp_path):
    from tctcb.train._anchor import StAnchor

    data = _data()
    anchor = StAnchor.from_pretrained(tiny_dir)
    frozen = _flat(anchor).clone()
    tr = Trainer(_cfg(DistillConfig, tmp_path, kd="none", anchor_weight=0.3, max_steps=2), data,
                 TctColBert.from_pretrained(tiny_dir), anchor=anchor)
    tr.train()
    steps = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in steps if "loss" in r]
    assert all(r["anchor"] > 0 for r in steps)
    assert steps[0]["loss"] == pytest.approx(steps[0]["ce"] + 0.3 * steps[0]["anchor"], rel=1e-5)
    assert torch.equal(_flat(anchor), frozen) and not anchor.training


def test_anchor_pulls_the_student_towards_the_backbone_form(tiny_dir, tmp_path):
    from tctcb.train._anchor import StAnchor

    data = _data()
    tr = Trainer(_cfg(DistillConfig, tmp_path, kd="none", gamma=1.0, anchor_weight=50.0, max_steps=10, lr=3e-3),
                 data, TctColBert.from_pretrained(tiny_dir), anchor=StAnchor.from_pretrained(tiny_dir))
    fixed = data.batch(0, 4, tr.cfg.seed)
    tr.model.eval()
    before = tr.loss_for(fixed, 0).stats["anchor"]
    tr.train()
    tr.model.eval()
    assert tr.loss_for(fixed, 0).stats["anchor"] < 0.5 * before


def test_anchor_mse_hand_computed():
    from tctcb.train._anchor import DEFAULT_ANCHOR_NORM, anchor_loss

    a = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # unit vectors (1, 0) and (0, 1) once normalised
    s = torch.tensor([[4.0, 0.0], [2.0, 0.0]])
    # row 1: (4/2, 0) - (1, 0) -> 1; row 2: (1, 0) - (0, 1) -> 2; mean 1.5
    assert float(anchor_loss(s, a, "mse", norm=2.0)) == pytest.approx(1.5)
    # aligned and of length N: 0; at length N it is 2 (1 - cos), unlike the scale-free cosine term
    assert float(anchor_loss(torch.tensor([[0.0, 2.0]]), a[1:], "mse", norm=2.0)) == pytest.approx(0.0)
    u = torch.tensor([[0.6, 0.8]]) * DEFAULT_ANCHOR_NORM
    assert float(anchor_loss(u, a[:1], "mse")) == pytest.approx(2 * (1 - 0.6), abs=1e-6)
    assert float(anchor_loss(2 * u, a[:1], "mse")) > float(anchor_loss(u, a[:1], "mse"))
    assert DEFAULT_ANCHOR_NORM ** 2 == pytest.approx(20.0)
    with pytest.raises(ValueError, match="unknown anchor loss"):
        anchor_loss(s, a, "l1")
    with pytest.raises(ValueError, match="norm must be > 0"):
        anchor_loss(s, a, "mse", norm=0.0)


def test_anchor_only_learns_from_the_anchor_alone(tiny_dir, tmp_path):
    """--anchor-only: the loss is the anchor term (CE logged, not learned); lengths move to --anchor-norm."""
    from tctcb.train._anchor import StAnchor

    data = _data()
    norm = 3.0
    tr = Trainer(_cfg(DistillConfig, tmp_path, kd="none", anchor_weight=2.0, anchor_loss="mse", anchor_norm=norm,
                      anchor_only=True, max_steps=12, lr=3e-3),
                 data, TctColBert.from_pretrained(tiny_dir), anchor=StAnchor.from_pretrained(tiny_dir))
    fixed = data.batch(0, 4, tr.cfg.seed)
    texts = [data.corpus[d] for e in fixed for d in e.docids]
    tr.model.eval()
    with torch.no_grad():
        gap_before = (tr.model.encode_passage(texts, max_length=16).norm(dim=1) - norm).abs().mean()
    before = tr.loss_for(fixed, 0)
    assert float(before.loss.detach()) == pytest.approx(2.0 * before.stats["anchor"], rel=1e-5)
    assert before.stats["ce"] > 0  # still computed and logged
    tr.train()
    recs = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert recs[0]["losses"] == [{"loss": "anchor (mse)", "weight": 2.0, "norm": norm}]
    assert all(r["loss"] == pytest.approx(2.0 * r["anchor"], rel=1e-5) for r in recs if "loss" in r)
    tr.model.eval()
    with torch.no_grad():
        gap_after = (tr.model.encode_passage(texts, max_length=16).norm(dim=1) - norm).abs().mean()
    assert tr.loss_for(fixed, 0).stats["anchor"] < 0.5 * before.stats["anchor"]
    assert gap_after < 0.5 * gap_before


def test_anchor_only_needs_an_anchor_and_no_kd(tiny_dir, tmp_path):
    from tctcb.train._distributed import data_parallel
    from tctcb.train._steps import student_step_loss

    data = _data()
    ex = data.batch(0, 4, 0)
    cfg = _cfg(DistillConfig, tmp_path, kd="none", gamma=1.0, anchor_only=True, anchor_weight=1.0)
    with pytest.raises(ValueError, match="anchor_only needs"):  # no anchor given
        student_step_loss(data_parallel(TctColBert.from_pretrained(tiny_dir)), data, ex, cfg,
                          ce=InBatchCrossEntropyLoss())


# ---------------------------------------------------------------- student format mean


def test_student_scale_applies_to_mean_students_only(tiny_dir, tmp_path):
    """--student-scale multiplies a normalised (mean) student's in-batch cosines; a tct student's dot products
    (and so its loss) are the same whatever the setting."""
    from tctcb.train._distributed import data_parallel
    from tctcb.train._steps import student_step_loss

    data = _data()
    ex = data.batch(0, 4, 0)
    ce = InBatchCrossEntropyLoss()

    def step(fmt, scale):
        torch.manual_seed(0)
        model = TctColBert.from_pretrained(tiny_dir, fmt).eval()
        cfg = _cfg(DistillConfig, tmp_path, kd="none", gamma=1.0, student_format=fmt, student_scale=scale)
        with torch.no_grad():
            return student_step_loss(data_parallel(model), data, ex, cfg, ce=ce), model

    (a, _), (b, _) = step("tct", 1.0), step("tct", 50.0)
    assert torch.equal(a.scores, b.scores) and a.loss.item() == b.loss.item()
    (m1, model), (m20, _) = step("mean", 1.0), step("mean", 20.0)
    assert m1.scores.abs().max() <= 1 + 1e-5  # cosines
    assert torch.allclose(m20.scores, 20 * m1.scores, atol=1e-5) and m20.loss.item() != m1.loss.item()
    with torch.no_grad():
        q = model.encode_query([data.topics[e.qid] for e in ex])
        p = model.encode_passage([data.corpus[d] for e in ex for d in e.docids], max_length=16)
    assert torch.allclose(m1.scores, q @ p.T, atol=1e-5)


def test_mean_student_trains_saves_its_format_and_resumes(tiny_dir, tmp_path):
    data = _data()
    cfg = _cfg(DistillConfig, tmp_path, kd="none", gamma=1.0, student_format="mean", max_steps=4)
    tr = Trainer(cfg, data, TctColBert.from_pretrained(tiny_dir, "mean"))
    tr.train()
    rec = json.loads((tmp_path / "run" / "model" / "tctcb_student.json").read_text())
    assert rec["format"] == "mean"
    ckpt = tmp_path / "run" / "checkpoints" / "step-0000002"
    import functools

    again = Trainer(_cfg(DistillConfig, tmp_path, kd="none", gamma=1.0, student_format="mean", max_steps=4), data,
                    TctColBert.from_pretrained(tiny_dir, "mean"))
    again.resume_from(ckpt, functools.partial(TctColBert.from_pretrained, student_format="mean"))
    assert again.step == 2 and again.model.fmt.format == "mean"
    with pytest.raises(TrainingError, match="student_format"):  # the setting is part of what is learned
        Trainer(_cfg(DistillConfig, tmp_path, kd="none", gamma=1.0, max_steps=4), data,
                TctColBert.from_pretrained(tiny_dir)).resume_from(ckpt, TctColBert.from_pretrained)


def test_teacher_passage_cache_reuses_vectors_and_scores_as_the_live_teacher(tiny_dir):
    """The live teacher's passage vectors are encoded once per passage and reused: the same scores as encoding
    them in every step (the teacher is frozen), fewer encodings, and the memory budget holds."""
    from tctcb.train import teacher_scores
    from tctcb.models import PassageVectorCache

    data = _data()
    data.set_negatives({q: sorted(CORPUS) for q in TOPICS})
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0).eval()
    calls = []
    encode = teacher.encode_passage
    teacher.encode_passage = lambda texts, **kw: (calls.append(len(texts)), encode(texts, **kw))[1]
    cache = PassageVectorCache(teacher, max_mb=64)
    batches = [data.batch(s, 4, seed=1, num_negatives=2) for s in range(6)]
    for ex in batches:
        cand = kd_candidates("in-batch", ex, 0, 1, 0)
        live = teacher_scores(teacher, data, ex, cand)
        cached = teacher_scores(teacher, data, ex, cand, cache)
        assert torch.allclose(live, cached, atol=1e-5)
        assert not torch.equal(live, torch.zeros_like(live))
    draws = sum(len(e.docids) for ex in batches for e in ex)
    distinct = len({d for ex in batches for e in ex for d in e.docids})
    assert cache.misses == distinct < draws and cache.hits == draws - distinct
    assert sum(calls) == draws + distinct  # live: every draw; cached: each passage once, even twice in a batch
    assert cache.stats()["passages"] == distinct and 0 < cache.stats()["hit_rate"] < 1
    # a budget smaller than one passage's vectors: nothing kept, every passage encoded in every step, same scores
    tight = PassageVectorCache(teacher, max_mb=1e-6)
    ex = batches[0]
    cand = kd_candidates("in-batch", ex, 0, 1, 0)
    for _ in range(2):
        assert torch.allclose(teacher_scores(teacher, data, ex, cand, tight), teacher_scores(teacher, data, ex, cand),
                              atol=1e-5)
    assert len(tight) == 0 and tight.used == 0
    assert tight.misses == 2 * len({d for e in ex for d in e.docids})  # encoded again in the second step


def test_teacher_cache_trains_the_same_student_and_reports_its_hits(tiny_dir, tmp_path):
    data = _data()
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=16), seed=0)
    kw = dict(teacher="t", kd="in-batch", negatives="bm25", num_negatives=2, max_steps=4)
    runs = {}
    for name, mb in (("off", 0), ("on", 64)):
        tr = Trainer(_cfg(DistillConfig, tmp_path / name, teacher_cache_mb=mb, **kw), data,
                     TctColBert.from_pretrained(tiny_dir), teacher=teacher)
        tr.train()
        runs[name] = tr
    assert runs["off"].teacher_cache is None
    assert torch.allclose(_flat(runs["off"].model), _flat(runs["on"].model), atol=1e-5)
    done = [json.loads(x) for x in (tmp_path / "on" / "run" / "log.jsonl").read_text().splitlines()][-1]
    assert done["event"] == "done" and done["teacher_cache"]["passages"] > 0
    assert done["teacher_cache"]["hit_rate"] > 0  # 12 documents, 4 steps x 12 draws: passages come back
