"""bin/gpu_check.py, the one GPU check, run in its CPU smoke mode so that it cannot rot."""
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bin" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _numbers(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _numbers(v)
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield x


def test_smoke_writes_every_section(gpu_check, tmp_path, capsys):
    out = tmp_path / "check.json"
    assert gpu_check.main(["--smoke", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mode"].startswith("smoke") and report["sizes"] == gpu_check.asdict(gpu_check.SIZES["smoke"])
    s = report["sections"]
    assert set(s) == {"documents", "queries", "search", "training"}
    assert all(math.isfinite(v) for v in _numbers(s))
    doc = s["documents"]
    assert doc["tctcb"]["passages_per_s"] > 0 and doc["pyserini"]["passages_per_s"] > 0
    assert doc["pyserini"]["how"].startswith("pyserini.encode.TctColBertDocumentEncoder")
    assert doc["agreement_cosine_min"] > 0.9999  # fp32 on the CPU: the same vectors both ways
    assert s["queries"]["one_at_a_time"]["how"].startswith("pyserini.encode.TctColBertQueryEncoder")
    assert s["search"]["overlap_fp32_at_k"] == 1.0 and s["search"]["overlap_bf16_at_k"] > 0.8
    assert isinstance(s["search"]["faiss_cpu_flat"], dict)
    tr = s["training"]
    assert tr["losses_finite"] and tr["steps_timed"] == gpu_check.SIZES["smoke"].train_steps and tr["steps_per_s"] > 0
    assert "wrote" in capsys.readouterr().out


def test_without_pyserini_the_loop_stands_in_and_agrees(gpu_check, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "_pyserini_encoders", lambda model, device: None)
    out = tmp_path / "check.json"
    assert gpu_check.main(["--smoke", "--output", str(out), "--skip", "search", "--skip", "training"]) == 0
    s = json.loads(out.read_text())["sections"]
    assert set(s) == {"documents", "queries"}
    assert s["documents"]["pyserini"]["how"].startswith("Pyserini's loop (pyserini not installed)")
    assert s["documents"]["agreement_cosine_min"] > 0.9999


def test_refusals(gpu_check, tmp_path, capsys):
    import torch

    if not torch.cuda.is_available():
        assert gpu_check.main(["--output", str(tmp_path / "x.json")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and "--smoke" in err[0]
    assert gpu_check.main(["--smoke", "--output", str(tmp_path / "no" / "x.json")]) == 2
    assert "--output" in capsys.readouterr().err
    bad = tmp_path / "texts.tsv"
    bad.write_text("1\tfine\nno tab here\n")
    with pytest.raises(SystemExit) as e:
        gpu_check.main(["--smoke", "--output", str(tmp_path / "x.json"), "--texts", str(bad)])
    assert e.value.code == 2 and f"{bad}:2:" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
