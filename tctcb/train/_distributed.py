"""torchrun (DDP) helpers: process group from the environment, the trained model wrapped in PyTorch's
DistributedDataParallel, gathers that keep the local gradient.

Every process computes the loss over the *global* batch (its own queries and passages carry gradient,
the other processes' are constants, gathered by :func:`gather_with_grad`), then DDP sums the gradients
across processes while the backward pass runs.  Because each process's loss is the full loss, the sum of
the per-process gradients is exactly the gradient of the single-process loss over the same global batch;
DDP's own average would divide it by the number of processes, so the wrapper sums instead.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["init_from_env", "rank_and_world", "gather_with_grad", "gather_padded", "Forward", "data_parallel",
           "barrier", "is_main"]


#: how long a collective may wait: rank 0 alone fills the caches (mining negatives over a large corpus) and
#: precomputes teacher scores while the others wait in a barrier, which NCCL's default (10 min) would end
TIMEOUT = timedelta(hours=6)


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    return rank_and_world()


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` from every process along dim 0; the local slice is ``t`` itself (keeps its grad)."""
    rank, world = rank_and_world()
    if world == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t.detach().contiguous())
    parts[rank] = t
    return torch.cat(parts, 0)


def gather_padded(t: torch.Tensor, dim: int = 1, value: float = 0.0) -> torch.Tensor:
    """:func:`gather_with_grad` for tensors whose ``dim`` differs between processes (padded with ``value``)."""
    rank, world = rank_and_world()
    if world == 1:
        return t
    n = torch.tensor([t.shape[dim]], device=t.device)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    longest = int(max(s.item() for s in sizes))
    if t.shape[dim] < longest:
        pad_shape = list(t.shape)
        pad_shape[dim] = longest - t.shape[dim]
        t = torch.cat([t, t.new_full(pad_shape, value)], dim)
    return gather_with_grad(t)


class Forward(nn.Module):
    """``Forward(model)(fn, *args)`` is ``fn(model, *args)``: a training step's one pass through the trained model.

    The models are used through their ``encode_*`` methods, not ``forward``, and DistributedDataParallel
    follows only what runs inside the ``forward`` of the module it wraps: this puts the step's encoding there.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, fn: Callable, *args):
        return fn(self.model, *args)


def _sum_hook(process_group, bucket):  # no annotations: DDP checks them, and this module's are strings
    """DDP communication hook: all-reduce (sum) a bucket of gradients, without DDP's division by the world size;
    returns the future of the summed bucket."""
    return dist.all_reduce(bucket.buffer(), group=process_group, async_op=True).get_future().then(
        lambda fut: fut.value()[0])


def data_parallel(model: nn.Module) -> nn.Module:
    """:class:`Forward` of ``model``; over several processes inside DistributedDataParallel, which sums the
    gradients of ``model``'s parameters across processes during the backward pass (see the module's note).

    One process: the plain :class:`Forward`, nothing else changes.  Parameters a step leaves unused (a
    backbone's pooler) keep no gradient, as with one process.  Buffers are synced once, when wrapped, not at
    every forward: they are constants that every process loads alike.  Keep the returned module until the
    backward pass is over (DDP's gradient hooks hold it only weakly)."""
    if rank_and_world()[1] == 1:
        return Forward(model)
    ddp = nn.parallel.DistributedDataParallel(Forward(model), forward_sync_buffers=False, find_unused_parameters=True)
    ddp.register_comm_hook(None, _sum_hook)
    return ddp
