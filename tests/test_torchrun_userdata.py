"""torchrun with two CPU processes on a registered dataset: ``tctcb.encode`` shards by rank on its own (the same
files ``--shard-id/--shard-num`` write, the same vectors) and ``tctcb.train distill`` trains with a live teacher."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import userdata_helpers as H

TORCHRUN = Path(sys.executable).with_name("torchrun")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args, env):
    cmd = [str(TORCHRUN), "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
           *args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not TORCHRUN.is_file():
        pytest.skip(f"no torchrun beside {sys.executable}")
    from tiny_models import make_tiny_bert

    root = tmp_path_factory.mktemp("torchrun")
    env = dict(os.environ, TCTCB_CACHE=str(root / "cache"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    paths = H.write_msmarco(root / "mm")
    from tctcb.data._cli import main as data_main

    old = os.environ.get("TCTCB_CACHE")
    os.environ["TCTCB_CACHE"] = env["TCTCB_CACHE"]
    try:
        assert data_main(H.msmarco_add_args("mm", paths)) == 0
    finally:
        if old is None:
            os.environ.pop("TCTCB_CACHE")
        else:
            os.environ["TCTCB_CACHE"] = old
    return root, env, make_tiny_bert(root / "tiny", seed=3), paths


def _shards(emb: Path) -> dict[str, np.ndarray]:
    out = {}
    for npy in sorted(emb.glob("shard-*/*.npy")):
        ids = npy.with_suffix(".docid").read_text().split()
        out.update(zip(ids, np.load(npy)))
    return out


def test_torchrun_encode_shards_by_rank(setup):
    root, env, tiny, _ = setup
    _torchrun(["-m", "tctcb.encode", "--collection", "mm", "--encoder", str(tiny), "--output", str(root / "emb2"),
               "--quiet"], env)
    names = sorted(p.name for p in (root / "emb2").glob("shard-*.json"))
    assert names == ["shard-00000-of-00002.json", "shard-00001-of-00002.json"]
    assert all(json.loads((root / "emb2" / n).read_text())["status"] == "complete" for n in names)
    one = subprocess.run([sys.executable, "-m", "tctcb.encode", "--collection", "mm", "--encoder", str(tiny), "--output",
                          str(root / "emb1"), "--quiet"], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    a, b = _shards(root / "emb2"), _shards(root / "emb1")
    assert sorted(a) == sorted(b) and len(a) == 120
    assert max(float(np.abs(a[d] - b[d]).max()) for d in a) < 1e-5


def test_torchrun_distill_on_registered_dataset(setup):
    root, env, tiny, paths = setup
    from tctcb.models import ColBERT, ColBERTConfig

    ColBERT.from_backbone(tiny, ColBERTConfig(dim=8, doc_maxlen=32), seed=0).save_pretrained(root / "teacher")
    out = root / "student"
    _torchrun(["-m", "tctcb.train", "distill", "--collection", "mm", "--split", "train", "--dev-split", "none",
               "--backbone", str(tiny), "--teacher", str(root / "teacher"), "--triples", str(paths["triples"]),
               "--batch-size", "2", "--max-steps", "3", "--passage-length", "32", "--quiet", "--output", str(out)], env)
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in steps)
    assert (out / "model" / "config.json").is_file()
