"""tctcb.pipeline: the report (table, Markdown, JSON, plot) and the CLI over a fake fast regression."""
import json
import textwrap

import pytest

from tctcb.pipeline import SystemRow, format_table, plot_effectiveness, write_markdown
from tctcb.pipeline._cli import main

MAKE_RUN = textwrap.dedent("""
    import json, sys
    path = sys.argv[1]
    with open(path, "w") as f:
        f.write("q1 Q0 d1 1 3.0 t\\nq1 Q0 d2 2 2.0 t\\nq1 Q0 d3 3 1.0 t\\nq2 Q0 d1 1 2.0 t\\nq2 Q0 d2 2 1.0 t\\n")
    with open(path + ".stats.json", "w") as f:
        json.dump({"queries": 2, "search_seconds": 0.01}, f)
""")
QRELS = "q1 0 d1 1\nq1 0 d3 1\nq2 0 d2 1\n"   # AP = (1 + 2/3)/2 / ... see below


def test_table_marks_failed_metrics_only():
    rows = [SystemRow("bm25", scores={"nDCG@10": 0.3218, "R@100": 0.2457}, expected={"nDCG@10": 0.3218, "R@100": 0.2457},
                      latency_ms=3.25),
            SystemRow("student", scores={"nDCG@10": 0.34, "R@100": None}, expected={"nDCG@10": 0.34, "R@100": 0.3},
                      ok=False, failed=["R@100"])]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["system", "nDCG@10", "R@100", "ms/query", "wall", "s", "check"]
    assert lines[2].split() == ["bm25", "0.3218", "0.2457", "3.2", "0", "OK"]
    assert lines[3].split() == ["student", "0.3400", "-", "-", "0", "FAIL"]


def test_markdown_and_plot(tmp_path):
    rows = [SystemRow("a", scores={"nDCG@10": 0.5}, latency_ms=2.0), SystemRow("b", scores={"nDCG@10": 0.6})]
    md = write_markdown(rows, tmp_path / "r.md", "T").read_text()
    assert md.startswith("# T\n") and "| a | 0.5000 | 2.0 |" in md and "| b | 0.6000 | - |" in md
    png = plot_effectiveness(rows, tmp_path / "p.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_effectiveness([SystemRow("c", scores={"nDCG@10": 0.1})], tmp_path / "q.png") is None
    assert not (tmp_path / "q.png").exists()


@pytest.fixture
def fake_regressions(tmp_path):
    d = tmp_path / "regressions"
    d.mkdir()
    (tmp_path / "make_run.py").write_text(MAKE_RUN)
    (tmp_path / "qrels.txt").write_text(QRELS)
    # q1: relevant d1@1, d3@3 -> AP (1 + 2/3)/2 = 0.8333; q2: d2@2 -> 0.5; MAP 0.6667
    (d / "fake.yaml").write_text(textwrap.dedent(f"""
        name: fake
        title: A fake pipeline
        vars: {{script: "{tmp_path / 'make_run.py'}", qrels_file: "{tmp_path / 'qrels.txt'}"}}
        conditions:
          - name: good
            description: right score
            commands: ["python {{script}} {{run}}"]
            qrels: "{{qrels_file}}"
            scores: {{AP: 0.6667}}
          - name: wrong
            description: expected score off
            commands: ["python {{script}} {{run}}"]
            qrels: "{{qrels_file}}"
            scores: {{AP: 0.7}}
    """))
    return d


def test_cli_runs_conditions_and_reports(fake_regressions, tmp_path, cache_dir, data_dir, capsys):
    out = tmp_path / "out"
    rc = main(["--regression", "fake", "--regressions-dir", str(fake_regressions), "--output", str(out)])
    assert rc == 1  # "wrong" fails
    stdout = capsys.readouterr().out
    assert "good" in stdout and "0.6667" in stdout and "0.6667*" in stdout
    rows = {r["name"]: r for r in json.loads((out / "results.json").read_text())}
    assert rows["good"]["ok"] and not rows["wrong"]["ok"] and rows["wrong"]["failed"] == ["AP"]
    assert rows["good"]["latency_ms"] == pytest.approx(5.0)
    assert (out / "good.trec").read_text().startswith("q1 Q0 d1 1")
    assert (out / "effectiveness-vs-latency.png").is_file() is False  # no nDCG@10 measured here
    rc = main(["--regression", "fake", "--regressions-dir", str(fake_regressions), "--output", str(out),
               "--condition", "good", "--metric", "AP"])
    assert rc == 0 and (out / "effectiveness-vs-latency.png").is_file()


def test_cli_unknown_regression(fake_regressions, capsys):
    assert main(["--regression", "nope", "--regressions-dir", str(fake_regressions)]) == 2
    assert "nope" in capsys.readouterr().err


def test_report_tests_each_system_against_the_baseline(tmp_path, cache_dir, data_dir, capsys):
    """results.md's significance section is tctcb.eval.experiment's frame: the same wins/losses and p-value as
    compare_runs (and so --compare) on the copied run files; --baseline picks the condition."""
    from tctcb.eval import compare_runs, load_qrels, read_run

    d = tmp_path / "regressions"
    d.mkdir()
    (tmp_path / "make_run.py").write_text(MAKE_RUN)
    # better: q1 d1, d3 at the top; q2 d2 first (AP 1.0 on both, where MAKE_RUN's AP is 0.8333 and 0.5).
    (tmp_path / "better.py").write_text(MAKE_RUN.replace('"q1 Q0 d1 1 3.0 t\\nq1 Q0 d2 2 2.0 t\\nq1 Q0 d3 3 1.0 t\\n',
                                                         '"q1 Q0 d1 1 3.0 t\\nq1 Q0 d3 2 2.0 t\\nq1 Q0 d2 3 1.0 t\\n')
                                        .replace('q2 Q0 d1 1 2.0 t\\nq2 Q0 d2 2 1.0 t', 'q2 Q0 d2 1 2.0 t\\nq2 Q0 d1 2 1.0 t'))
    (tmp_path / "qrels.txt").write_text(QRELS)
    (d / "pair.yaml").write_text(textwrap.dedent(f"""
        name: pair
        title: Two systems
        vars: {{qrels_file: "{tmp_path / 'qrels.txt'}"}}
        conditions:
          - name: base
            commands: ["python {tmp_path / 'make_run.py'} {{run}}"]
            qrels: "{{qrels_file}}"
            scores: {{AP: 0.6667, RR@10: 0.75}}
          - name: better
            commands: ["python {tmp_path / 'better.py'} {{run}}"]
            qrels: "{{qrels_file}}"
            scores: {{AP: 1.0, RR@10: 1.0}}
    """))
    out = tmp_path / "out"
    assert main(["--regression", "pair", "--regressions-dir", str(d), "--output", str(out)]) == 0
    md = (out / "results.md").read_text()
    want = {c.metric: c for c in compare_runs(read_run(out / "better.trec"), read_run(out / "base.trec"),
                                              load_qrels(str(tmp_path / "qrels.txt")), ["AP", "RR@10"])}
    assert (want["AP"].wins, want["AP"].losses, want["RR@10"].wins) == (2, 0, 1)
    assert "## Against base\n\n2 queries;" in md
    assert "| name | AP | AP + | AP - | AP p-value | RR@10 | RR@10 + | RR@10 - | RR@10 p-value |" in md
    assert (f"| better | 1.0000 | 2 | 0 | {want['AP'].p_value:.4f} | 1.0000 | 1 | 0 | {want['RR@10'].p_value:.4f} |"
            in md)
    assert "| base | 0.6667 | - | - | - | 0.7500 | - | - | - |" in md
    assert "against base (2 queries" in capsys.readouterr().out
    assert main(["--regression", "pair", "--regressions-dir", str(d), "--output", str(out), "--baseline", "better"]) == 0
    assert "## Against better" in (out / "results.md").read_text()
    assert main(["--regression", "pair", "--regressions-dir", str(d), "--output", str(out), "--baseline", "nope"]) == 2
    assert "--baseline nope: not a condition of this run (base, better)" in capsys.readouterr().err
