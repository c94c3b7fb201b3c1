"""DDP: 2 CPU processes on gloo compute the same global scores and, after summing gradients, the same
gradients as one process on the whole batch (student with the live teacher, with and without the anchor
term, and the teacher itself)."""
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


def _compute(tiny_dir, mode):
    from tctcb.models import ColBERT, TctColBert
    from tctcb.models._colbert import ColBERTConfig
    from tctcb.train import TrainingData
    from tctcb.train._distributed import sum_gradients
    from tctcb.train._steps import student_step_loss, teacher_step_loss
    from tctcb.train.losses import DistillKLDivLoss, InBatchCrossEntropyLoss

    data = TrainingData(CORPUS, TOPICS, QRELS, log=lambda m: None)
    data.set_negatives({q: sorted(CORPUS) for q in TOPICS})
    examples = data.batch(0, 4, seed=5, num_negatives=1)
    teacher = ColBERT.from_backbone(tiny_dir, ColBERTConfig(dim=8, doc_maxlen=24), seed=0).eval()
    if mode == "teacher":
        model = teacher
        out = teacher_step_loss(model, data, examples, InBatchCrossEntropyLoss())
    else:
        model = TctColBert.from_pretrained(tiny_dir).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        anchor = None
        if mode == "student+anchor":
            from tctcb.train._anchor import StAnchor

            anchor = StAnchor.from_pretrained(tiny_dir)
        out = student_step_loss(model, data, examples, kd="in-batch", gamma=0.3, ce=InBatchCrossEntropyLoss(),
                                kl=DistillKLDivLoss(0.5), teacher=teacher, passage_length=24,
                                anchor=anchor, anchor_weight=0.7)
    out.loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    sum_gradients(params)
    grads = torch.cat([p.grad.reshape(-1) for p in params if p.grad is not None])
    return out.scores.detach(), out.loss.detach(), grads


def _worker(rank, world, port, tiny_dir, mode, result_dir):
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.save(_compute(tiny_dir, mode), os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return str(make_tiny_bert(tmp_path_factory.mktemp("tiny"), hidden=32, layers=1))


@pytest.mark.parametrize("mode", ["student", "student+anchor", "teacher"])
def test_two_gloo_processes_match_one(tiny_dir, tmp_path, mode):
    single_scores, single_loss, single_grads = _compute(tiny_dir, mode)
    mp.spawn(_worker, args=(2, _free_port(), tiny_dir, mode, str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        scores, loss, grads = torch.load(tmp_path / f"rank{rank}.pt")
        assert scores.shape == single_scores.shape == (4, 8)  # 4 queries x (positive + 1 negative) x 4
        assert torch.allclose(scores, single_scores, atol=1e-5)
        assert torch.allclose(loss, single_loss, atol=1e-5)
        assert torch.allclose(grads, single_grads, atol=1e-5, rtol=1e-4)
    assert single_grads.abs().sum() > 0
