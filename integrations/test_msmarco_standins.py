"""The MS MARCO commands of docs/msmarco.md ("Searching") and of the README, run verbatim without a network: tiny
stand-ins sit under the real names in Pyserini's and Hugging Face's caches (tests/msmarco_standins.py: a tiny
random TCT-ColBERT and SPLADE model, 100 synthetic passages with MS MARCO ids, Pyserini's prebuilt index folders);
only the environment differs from an online user's (PYSERINI_CACHE, HF_HOME, HF_HUB_OFFLINE=1, TCTCB_DATA,
TCTCB_CACHE). Every run must hold every query with all the passages it can hold, and tctcb.eval must score it
with the recall the stand-in passages allow (computed here from the qrels)."""
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from msmarco_standins import DENSE, IMPACT, LUCENE, build_standins, pyserini_folder

REPO = Path(__file__).resolve().parents[1]
PASSAGES = 100
SCRIPT = REPO / "tests" / "msmarco_standins.py"


def fenced_commands(markdown: str, section: str | None = None) -> list[str]:
    """The commands of the ```bash blocks of ``markdown`` (of its ``section`` heading only, down to the next
    heading of the same level), continuation lines joined, comments and ``export`` lines dropped."""
    if section is not None:
        level = section.split(" ")[0]
        start = markdown.index(section + "\n")
        end = re.search(rf"^{level} ", markdown[start + len(section):], flags=re.M)
        markdown = markdown[start:start + len(section) + end.start()] if end else markdown[start:]
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith(("#", "export ")):
                commands.append(" ".join(line.split()))
    return commands


def readme_commands(markdown: str) -> list[str]:
    """The README's MS MARCO commands: ``python -m tctcb...`` lines of its fenced blocks and inline spans that name a
    prebuilt MS MARCO index."""
    found = fenced_commands(markdown) + re.findall(r"`(python -m tctcb\.[^`]+)`", markdown)
    return list(dict.fromkeys(c for c in found if c.startswith("python -m tctcb.") and "msmarco-v1-passage" in c))


def _options(command: str) -> dict[str, str]:
    words, out = shlex.split(command), {}
    for i, w in enumerate(words):
        if w.startswith("--"):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            out.setdefault(w, "" if nxt.startswith("--") else nxt)
    return out


def _metric_values(stdout: str) -> dict[str, float]:
    """``tctcb.eval``'s lines ``METRIC<TAB>value``."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def _read_run(path: Path, fmt: str) -> dict[str, list[tuple[str, int, float]]]:
    run = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split("\t") if fmt == "msmarco" else line.split()
        if fmt == "msmarco":
            qid, docid, rank = f
            run[qid].append((docid, int(rank), math.nan))
        else:
            qid, q0, docid, rank, score, tag = f
            assert q0 == "Q0" and tag
            run[qid].append((docid, int(rank), float(score)))
    return run


@pytest.fixture(scope="module")
def standins(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("standins") / "caches"
    env = build_standins(root, PASSAGES)
    return root, env


def _env(standin_env, tmp_path, data_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "PYSERINI_", "TCTCB_"))}
    env.update(standin_env, TCTCB_DATA=str(data_dir), TCTCB_CACHE=str(tmp_path / "tctcb-cache"),
               TOKENIZERS_PARALLELISM="false", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return env


def _expected_recall(qrels, topics, passages, rel_level=1) -> float:
    """Mean recall over the judged queries of a run holding every stand-in passage for every query."""
    values = []
    for qid in topics:
        rel = {d for d, g in qrels.get(qid, {}).items() if g >= rel_level}
        if rel:
            values.append(len(rel & passages) / len(rel))
    return sum(values) / len(values)


def test_msmarco_doc_commands_run_offline_on_standins(standins, tmp_path, data_dir):
    from tctcb.data import load_qrels, load_topics

    root, standin_env = standins
    docs = fenced_commands((REPO / "docs" / "msmarco.md").read_text(encoding="utf-8"), "## Searching")
    readme = readme_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert readme, "the README shows the MS MARCO command"
    commands = docs + readme
    searches = [c for c in commands if c.startswith("python -m tctcb.search ")]
    evals = [c for c in commands if c.startswith("python -m tctcb.eval ")]
    assert len(searches) + len(evals) == len(commands), [c for c in commands if c not in searches + evals]
    # the docs still show every path this test stands in for: dense, both BM25 hybrids, TREC output, SPLADE++ ED
    shown = {(o.get("--index"), o.get("--sparse-index"), o["--topics"], o["--output-format"])
             for o in map(_options, searches)}
    assert {(DENSE[0], None, "msmarco-dev", "msmarco"), (DENSE[0], LUCENE[0], "msmarco-dev", "msmarco"),
            (DENSE[0], LUCENE[1], "msmarco-dev", "msmarco"), (DENSE[0], None, "dl19-passage", "trec"),
            (None, IMPACT[0], "dl19-passage", "trec")} <= shown, shown
    env = _env(standin_env, tmp_path, data_dir)
    work = tmp_path / "work"
    work.mkdir()
    passages = {ln.split("\t")[0] for ln in (root / "passages.tsv").read_text(encoding="utf-8").splitlines()}
    assert len(passages) == PASSAGES
    runs = {}
    for command in commands:
        p = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0 and "Traceback" not in p.stderr, f"{command}\n{p.stderr[-3000:]}"
        opts = _options(command)
        if command in searches:
            topics = load_topics(opts["--topics"])
            fmt, hits = opts.get("--output-format", "trec"), int(opts.get("--hits", 1000))
            run = _read_run(work / opts["--output"], fmt)
            assert set(run) == set(topics), f"{command}: {len(set(topics) - set(run))} queries missing"
            full = min(hits, PASSAGES)
            for qid, rows in run.items():
                n = len(rows)
                # dense (alone or fused) ranks every passage; a sparse run ranks those sharing a term
                assert (n == full) if "--index" in opts else (1 <= n <= full), (command, qid, n)
                assert [r for _, r, _ in rows] == list(range(1, n + 1)), (command, qid)
                assert {d for d, _, _ in rows} <= passages and len({d for d, _, _ in rows}) == n, (command, qid)
                if fmt == "trec":
                    scores = [s for _, _, s in rows]
                    assert all(map(math.isfinite, scores)) and scores == sorted(scores, reverse=True), (command, qid)
            runs[opts["--output"]] = (opts["--topics"], "--index" in opts)
        else:
            assert opts["--run"] in runs, f"{command}: evaluates a run no command above wrote"
            topics_name, holds_all = runs[opts["--run"]]
            assert opts["--qrels"] == topics_name
            values = _metric_values(p.stdout)
            words = shlex.split(command)[3:]  # after "python -m tctcb.eval"
            metrics = [w for prev, w in zip(words, words[1:]) if prev == "-m"]
            assert set(values) == set(metrics), (command, p.stdout)
            assert all(0.0 <= v <= 1.0 for v in values.values()), (command, values)
            level = int(opts.get("--rel-level", 1))
            recall = _expected_recall(load_qrels(topics_name), load_topics(topics_name), passages, level)
            assert recall > 0
            if holds_all and "R@1000" in values:  # every stand-in passage ranked: recall is what the passages allow
                assert values["R@1000"] == pytest.approx(recall, abs=5.01e-5), (command, values, recall)  # 4 places
            elif "R@1000" in values:
                assert 0 < values["R@1000"] <= recall + 5e-5, (command, values, recall)
    scored = {_options(c)["--run"] for c in evals}
    unscored = [_options(c)["--output"] for c in docs if c in searches and _options(c)["--output"] not in scored]
    assert not unscored, f"docs/msmarco.md writes runs it never evaluates: {unscored}"


def test_stale_standins_are_one_line(standins, tmp_path, data_dir):
    """A rerun over the built folder reuses it; a changed or missing file is one line (exit 2), not a rebuild."""
    root, standin_env = standins
    env = _env({}, tmp_path, data_dir)

    def rerun(folder):
        return subprocess.run([sys.executable, str(SCRIPT), str(folder), "--passages", str(PASSAGES)], env=env,
                              capture_output=True, text=True, timeout=300)

    ok = rerun(root)
    assert ok.returncode == 0, ok.stderr
    assert dict(ln.removeprefix("export ").split("=", 1) for ln in ok.stdout.splitlines()) == standin_env
    changed, partial = tmp_path / "changed", tmp_path / "partial"
    for folder in (changed, partial):
        shutil.copytree(root, folder)
    docid = pyserini_folder(changed / "pyserini", DENSE[0]) / "docid"
    docid.write_text(docid.read_text(encoding="utf-8") + "9999999\n", encoding="utf-8")
    next((partial / "hf").rglob("config.json")).unlink()
    for folder, expect in ((changed, "docid changed (checksum mismatch)"), (partial, "config.json is missing")):
        p = rerun(folder)
        assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr, p.stderr
        (line,) = p.stderr.strip().splitlines()
        assert line.startswith(f"error: stale stand-in cache {folder}") and f"delete {folder}" in line, line
        assert expect in line, line


@pytest.mark.parametrize("name,conditions", [
    ("dl19-passage-tct_colbert-v2", None),  # 43 queries: every condition
    ("msmarco-passage-tct_colbert", "tct_colbert-hnsw"),  # the one dev condition the docs' commands do not run
])
def test_reproduce_online_runs_on_standins(standins, tmp_path, data_dir, name, conditions):
    """``python -m tctcb.reproduce NAME --online`` against the stand-ins: every condition runs and writes a complete
    run; the published scores are not what tiny random models give, so each is FAIL with a measured value (not
    '-', which would mean the condition did not run)."""
    from tctcb.data import load_topics
    from tctcb.reproduce import load_regression

    _, standin_env = standins
    env = _env(standin_env, tmp_path, data_dir)
    command = f"python -m tctcb.reproduce {name} --online" + (f" --condition {conditions}" if conditions else "")
    p = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1 and "Traceback" not in p.stderr and "error:" not in p.stderr, p.stderr[-3000:]
    rows = [ln.split() for ln in p.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    ran = [c for c in load_regression(name).conditions if conditions is None or c.name == conditions]
    assert [(r[0], r[1]) for r in rows] == [(c.name, e.metric) for c in ran for e in c.scores], p.stdout
    for r in rows:
        assert r[-1] == "FAIL" and 0.0 <= float(r[-2]) <= 1.0, r
    for c in ran:
        topics = set(load_topics(c.topics))
        fmt = "trec" if name.startswith("dl19") else "msmarco"
        run = _read_run(tmp_path / "tctcb-cache" / "reproduce" / name / f"{c.name}.run", fmt)
        assert set(run) == topics, c.name
        counts = {len(rows) for rows in run.values()}
        # flat: every passage ranked; HNSW is approximate: a graph search may not reach every passage
        assert counts == {PASSAGES} if "hnsw" not in c.name else (min(counts) >= 10 and max(counts) <= PASSAGES), \
            (c.name, sorted(counts)[:5])
