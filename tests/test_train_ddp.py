"""DDP: 2 CPU processes on gloo compute the same global scores and, with DistributedDataParallel summing the
gradients, the same gradients as one process on the whole batch (student with the live teacher, with and without
the anchor term, and the teacher itself); and the trainer's loop over 2 processes ends with the weights of one."""
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from tiny_models import make_tiny_bert

CORPUS = {f"d{i}": ("short text" if i % 3 else "a much longer document text with many more words in it") + f" {i}"
          for i in range(12)}
TOPICS = {f"q{i}": f"query {i} words" for i in range(8)}
QRELS = {f"q{i}": {f"d{i}": 1, f"d{(i + 4) % 12}": 1} for i in range(8)}


def _data():
    from tctcb.train import TrainingData

    data = TrainingData(CORPUS, TOPICS, QRELS, log=lambda m: None)
    data.set_negatives({q: sorted(CORPUS) for q in TOPICS})
    return data


def _compute(tiny_dir, mode, out_dir):
    from tctcb.models import ColBERT, ColBERTConfig, TctColBert
    from tctcb.train import DistillConfig
    from tctcb.train._distributed import data_parallel
    from tctcb.train._steps import student_step_loss, teacher_step_loss
    from tctcb.train.losses import DistillKLDivLoss, InBatchCrossEntropyLoss

    if mode == "trainer":
        return _train(tiny_dir, out_dir)
    data = _data()
    examples = data.batch(0, 4, seed=5, num_negatives=1)
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=24), seed=0).eval()
    if mode == "teacher":
        model = teacher
        forward = data_parallel(model)  # (kept: DDP must outlive the backward pass)
        out = teacher_step_loss(forward, data, examples, InBatchCrossEntropyLoss())
    else:
        model = TctColBert.from_pretrained(tiny_dir).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        anchor = None
        if mode == "student+anchor":
            from tctcb.train._anchor import StAnchor

            anchor = StAnchor.from_pretrained(tiny_dir)
        cfg = DistillConfig(collection="synthetic", output_dir=out_dir, kd="in-batch", gamma=0.3, temperature=0.5,
                            passage_length=24, anchor_weight=0.7)
        forward = data_parallel(model)
        out = student_step_loss(forward, data, examples, cfg, ce=InBatchCrossEntropyLoss(),
                                kl=DistillKLDivLoss(cfg.temperature), teacher=teacher, anchor=anchor)
    out.loss.backward()  # over 2 processes, DDP sums the gradients across them here
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.cat([p.grad.reshape(-1) for p in params if p.grad is not None])
    return out.scores.detach(), out.loss.detach(), grads


def _train(tiny_dir, out_dir):
    """Three steps of the trainer (live in-batch KD, one hard negative, clipping); the same global batch of 4
    queries in one process or 2 x 2. Dropout is off, so the processes' different random streams don't matter."""
    from tctcb.models import ColBERT, ColBERTConfig, TctColBert
    from tctcb.train import DistillConfig, Trainer
    from tctcb.train._distributed import rank_and_world

    world = rank_and_world()[1]
    cfg = DistillConfig(collection="synthetic", output_dir=out_dir, batch_size=4 // world, max_steps=3, lr=1e-3,
                        warmup_ratio=0.0, save_every=0, seed=3, quiet=True, passage_length=24, dev_split="none",
                        teacher="t", negatives="bm25", num_negatives=1, gamma=0.3, max_grad_norm=0.5)
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=24), seed=0)
    tr = Trainer(cfg, _data(), TctColBert.from_pretrained(tiny_dir), teacher=teacher)
    tr.train()
    steps = [json.loads(x) for x in open(os.path.join(out_dir, "log.jsonl"))]
    losses = torch.tensor([r["loss"] for r in steps if "loss" in r])
    return losses, losses[-1], torch.cat([p.detach().reshape(-1) for p in tr.model.parameters()])


def _worker(rank, world, port, tiny_dir, mode, result_dir):
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.save(_compute(tiny_dir, mode, os.path.join(result_dir, "ddp")), os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    path = make_tiny_bert(tmp_path_factory.mktemp("tiny"), hidden=32, layers=1)
    config = json.loads((path / "config.json").read_text())  # no dropout: the trainer runs in train mode
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize("mode", ["student", "student+anchor", "teacher", "trainer"])
def test_two_gloo_processes_match_one(tiny_dir, tmp_path, mode):
    single_scores, single_loss, single_grads = _compute(tiny_dir, mode, str(tmp_path / "single"))
    mp.spawn(_worker, args=(2, _free_port(), tiny_dir, mode, str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        scores, loss, grads = torch.load(tmp_path / f"rank{rank}.pt")
        if mode != "trainer":  # (trainer: the per-step losses, the final weights)
            assert scores.shape == single_scores.shape == (4, 8)  # 4 queries x (positive + 1 negative) x 4
        assert torch.allclose(scores, single_scores, atol=1e-5)
        assert torch.allclose(loss, single_loss, atol=1e-5)
        assert torch.allclose(grads, single_grads, atol=1e-5, rtol=1e-4)
    assert single_grads.abs().sum() > 0
