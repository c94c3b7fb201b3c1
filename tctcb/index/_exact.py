"""Exact dense top-k in torch (beside FAISS: the exact search that needs no index structure)."""
from __future__ import annotations

import numpy as np

__all__ = ["ExactTopK"]

_DTYPES = {"fp32": "float32", "bf16": "bfloat16"}


class ExactTopK:
    """Exact top-k by inner product (or L2 distance) over shards of the vectors, in torch, on any device.

    The one exact dense top-k of tctcb: ``DenseSearcher``'s torch backend and the trainer's dense retrieval
    (dev evaluation, dense negative mining) both search through it.  ``search`` returns faiss's shapes:
    (scores or distances [n, k], row indices [n, k]), padded with -1 rows where fewer than k vectors exist.
    ``dtype="bf16"`` keeps the vectors (and computes the products) in bfloat16: half the memory and, on a GPU,
    tensor-core speed; scores are then approximate (about 3 significant digits), the default fp32 is exact.

    >>> top = ExactTopK(np.array([[1., 0.], [0., 1.], [.6, .8]], dtype=np.float32))
    >>> [r.tolist() for r in top.search(np.array([[0., 1.]], dtype=np.float32), 2)[1]]
    [[1, 2]]
    """

    def __init__(self, vectors: np.ndarray, metric_ip: bool = True, device: str = "cpu", shard_rows: int = 1 << 20,
                 dtype: str = "fp32"):
        import torch

        from tctcb.models import pick_device

        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        self.torch = torch
        self.device = pick_device(device)
        self.dtype = getattr(torch, _DTYPES[dtype])
        self.metric_ip = metric_ip
        self.shards = []
        self.offsets = []
        for start in range(0, len(vectors), shard_rows):
            part = torch.from_numpy(np.ascontiguousarray(vectors[start:start + shard_rows], dtype=np.float32))
            self.shards.append(part.to(self.device, dtype=self.dtype))
            self.offsets.append(start)
        self.norms = [(s.float() * s.float()).sum(dim=1) for s in self.shards] if not metric_ip else None

    def search(self, q: np.ndarray, k: int, query_chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        all_d, all_i = [], []
        with torch.inference_mode():
            for qs in range(0, len(q), query_chunk):
                qt = torch.from_numpy(np.ascontiguousarray(q[qs:qs + query_chunk], dtype=np.float32)).to(self.device,
                                                                                                         dtype=self.dtype)
                best_s = best_i = None
                for n, (shard, off) in enumerate(zip(self.shards, self.offsets)):
                    s = (qt @ shard.T).float()
                    if not self.metric_ip:  # rank by -||q - d||^2 ; report the distance as faiss does
                        qf = qt.float()
                        s = 2 * s - self.norms[n][None, :] - (qf * qf).sum(dim=1, keepdim=True)
                    kk = min(k, s.shape[1])
                    v, i = torch.topk(s, kk, dim=1)
                    i = i + off
                    if best_s is None:
                        best_s, best_i = v, i
                    else:
                        cat_s, cat_i = torch.cat([best_s, v], 1), torch.cat([best_i, i], 1)
                        v, j = torch.topk(cat_s, min(k, cat_s.shape[1]), dim=1)
                        best_s, best_i = v, torch.gather(cat_i, 1, j)
                d = best_s if self.metric_ip else -best_s
                all_d.append(d.float().cpu().numpy())
                all_i.append(best_i.cpu().numpy())
        D, I = np.concatenate(all_d), np.concatenate(all_i)
        if D.shape[1] < k:  # fewer documents than k: pad like faiss
            pad = k - D.shape[1]
            D = np.pad(D, ((0, 0), (0, pad)), constant_values=-np.inf if self.metric_ip else np.inf)
            I = np.pad(I, ((0, 0), (0, pad)), constant_values=-1)
        return D, I
