"""torchrun (DDP) helpers: process group from the environment, gathers that keep the local gradient,
summing gradients across processes.

Every process computes the loss over the *global* batch (its own queries and passages carry gradient,
the other processes' are constants), then gradients are summed across processes.  Because each
process's loss is the full loss, the sum of the per-process gradients is exactly the gradient of the
single-process loss over the same global batch.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["init_from_env", "rank_and_world", "gather_with_grad", "gather_padded", "sum_gradients", "barrier",
           "is_main"]


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
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


def sum_gradients(params) -> None:
    """All-reduce (sum) the gradients of ``params`` in one flat buffer."""
    if rank_and_world()[1] == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()
