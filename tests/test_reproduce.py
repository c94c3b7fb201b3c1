"""tctcb.reproduce: YAML schema, runner (OK / FAIL / unparsable / failing command), CLI, generated docs."""
import sys
import textwrap

import pytest

from tctcb.reproduce import (RegressionError, archive_dir, format_result, list_regressions, load_regression,
                             regressions_dir, render_doc, run_condition, stale_docs, write_docs)
from tctcb.reproduce._cli import main

# A fast fake condition: a script writes a fixed run; its AP against QRELS is (5/6 + 1/2) / 2 = 2/3.
MAKE_RUN = textwrap.dedent("""
    import sys
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "fail":
        sys.exit(3)
    if mode == "nothing":
        sys.exit(0)
    with open(path, "w") as f:
        if mode == "garbage":
            f.write("this is not a run\\n")
        else:
            f.write("q1 Q0 d1 1 3.0 t\\nq1 Q0 d2 2 2.0 t\\nq1 Q0 d3 3 1.0 t\\nq2 Q0 d1 1 2.0 t\\nq2 Q0 d2 2 1.0 t\\n")
""")
QRELS = "q1 0 d1 1\nq1 0 d3 1\nq2 0 d2 1\n"


def _condition(name, mode, scores, extra=""):
    return textwrap.dedent(f"""
      - name: {name}
        commands:
          - python {{script}} {mode} {{run}}
        qrels: "{{qrels_file}}"
        scores: {scores}
    """) + extra


@pytest.fixture
def regs(tmp_path, monkeypatch):
    d = tmp_path / "regressions"
    d.mkdir()
    (tmp_path / "make_run.py").write_text(MAKE_RUN)
    (tmp_path / "qrels.txt").write_text(QRELS)
    conds = "".join([
        _condition("good", "ok", "{AP: 0.6667, RR@10: 0.75}"),
        _condition("too-high", "ok", "{AP: 0.6000}"),
        _condition("too-low", "ok", "{AP: {expected: 0.7000, tolerance: 0.01}}"),
        _condition("within-tolerance", "ok", "{AP: {expected: 0.6600, tolerance: 0.01}}"),
        _condition("garbage", "garbage", "{AP: 0.6667}"),
        _condition("no-output", "nothing", "{AP: 0.6667}"),
        _condition("crash", "fail", "{AP: 0.6667}"),
    ])
    (d / "fake.yaml").write_text(textwrap.dedent(f"""
        name: fake
        title: A fake regression
        description: For tests.
        vars: {{script: "{tmp_path / 'make_run.py'}", qrels_file: "{tmp_path / 'qrels.txt'}"}}
        conditions:
    """) + textwrap.indent(conds, "  "))
    (d / "fake-ok.yaml").write_text(textwrap.dedent(f"""
        name: fake-ok
        title: Only passing
        vars: {{script: "{tmp_path / 'make_run.py'}", qrels_file: "{tmp_path / 'qrels.txt'}"}}
        conditions:
    """) + textwrap.indent(_condition("good", "ok", "{AP: 0.6667}"), "  "))
    monkeypatch.setenv("TCTCB_REGRESSIONS", str(d))
    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    return d


def _results(reg, name, cache):
    return run_condition(reg, reg.condition(name), cache=cache)


def test_ok_fail_and_unparsable(regs, tmp_path):
    reg = load_regression("fake")
    cache = tmp_path / "cache"
    good = _results(reg, "good", cache)
    assert [(r.metric, r.ok) for r in good] == [("AP", True), ("RR@10", True)]
    assert good[0].measured == pytest.approx(2 / 3)
    assert format_result(good[0]).split() == ["good", "AP", "0.6667", "0.6667", "OK"]
    assert not _results(reg, "too-high", cache)[0].ok      # measured above expected: FAIL too
    assert not _results(reg, "too-low", cache)[0].ok
    assert _results(reg, "within-tolerance", cache)[0].ok
    for name, reason in [("garbage", "unparsable run"), ("no-output", "run file not found"),
                         ("crash", "exited with status 3")]:
        (r,) = _results(reg, name, cache)
        assert not r.ok and r.measured is None and reason in r.error
        assert format_result(r).split()[-2:] == ["-", "FAIL"]


def test_stale_run_file_is_not_scored(regs, tmp_path):
    reg = load_regression("fake")
    ok = _results(reg, "good", tmp_path / "cache")
    assert ok[0].ok
    # Same run path, but now the command writes nothing: the old file must not count.
    cond = reg.condition("good")
    stale = type(cond)(**{**cond.__dict__, "commands": (("python", "{script}", "nothing", "{run}"),)})
    (r, _) = run_condition(reg, stale, cache=tmp_path / "cache")
    assert not r.ok and "not found" in r.error


def test_cli_list_dry_run_and_exit_codes(regs, capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "fake: A fake regression" in out and "good: AP 0.6667, RR@10 0.7500" in out
    assert main(["fake", "--condition", "good", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "# fake / good" and out[1].startswith(sys.executable) and out[1].endswith("good.run")
    assert main(["fake-ok"]) == 0
    assert capsys.readouterr().out.splitlines() == ["# fake-ok: Only passing",
                                                    format_result_line("good", "AP", "0.6667", "0.6667", "OK")]
    assert main(["fake", "--condition", "good", "--condition", "too-high"]) == 1
    lines = [x.split() for x in capsys.readouterr().out.splitlines()]
    assert lines[0][0] == "#" and [x[-1] for x in lines[1:]] == ["OK", "OK", "FAIL"]
    assert main(["fake", "--condition", "garbage"]) == 1
    captured = capsys.readouterr()
    assert captured.out.split()[-2:] == ["-", "FAIL"] and "unparsable run" in captured.err
    assert main(["no-such-regression"]) == 2
    assert "unknown regression" in capsys.readouterr().err
    assert main(["fake", "--condition", "nope"]) == 2
    assert main([]) == 2


def format_result_line(*fields):
    from tctcb.reproduce import Result

    r = Result("r", fields[0], fields[1], float(fields[2]), 0.0, float(fields[3]), fields[4] == "OK")
    return format_result(r)


def test_online_condition_stops_early(regs, tmp_path, capsys):
    (regs / "online.yaml").write_text(textwrap.dedent("""
        name: online
        title: Needs the internet
        conditions:
          - name: dense
            offline: false
            commands: ["python -m tctcb.search --topics msmarco-dev --index msmarco-v1-passage.tct_colbert --output {run}"]
            qrels: msmarco-dev
            scores: {RR@10: 0.335}
    """))
    assert main(["online"]) == 2
    assert "--online" in capsys.readouterr().err
    assert main(["online", "--dry-run"]) == 0
    assert "msmarco-v1-passage.tct_colbert" in capsys.readouterr().out


def test_online_run_stops_after_first_unreachable(regs, tmp_path, capsys, monkeypatch):
    # offline, --online: the first online condition fails fast with the search CLI's one-line message and
    # the second is not tried at all (its command is never printed); the offline condition still runs
    monkeypatch.setenv("TCTCB_OFFLINE", "1")
    cond = textwrap.dedent("""
          - name: {name}
            offline: false
            commands: ["python -m tctcb.search --topics msmarco-dev --index msmarco-v1-passage.tct_colbert --output {{run}}"]
            qrels: msmarco-dev
            scores: {{RR@10: 0.335}}
    """)
    (regs / "online2.yaml").write_text("name: online2\ntitle: t\nconditions:\n" + cond.format(name="first")
                                       + cond.format(name="second"))
    assert main(["online2", "fake-ok", "--online"]) == 1
    out = capsys.readouterr()
    assert "stopping: online2/first could not run" in out.err and "online2/second" in out.err
    assert "+ " not in out.out  # commands go to the run's stream, not stdout
    assert [ln.split()[:2] + ln.split()[-1:] for ln in out.out.splitlines() if not ln.startswith("#")] == \
        [["first", "RR@10", "FAIL"], ["good", "AP", "OK"]]


def test_vars_may_use_builtin_placeholders(tmp_path):
    from tctcb.reproduce import expand_commands

    path = tmp_path / "v.yaml"
    path.write_text(textwrap.dedent("""
        name: v
        title: vars
        vars: {model: "{cache}/models/student", seed: 7}
        conditions:
          - name: c
            vars: {seed: 8}
            commands: ["python -m tctcb.train distill --output {model} --seed {seed}",
                       "python -m tctcb.search --encoder {model} --output {run}"]
            qrels: q
            scores: {AP: 0.5}
    """))
    reg = load_regression(path)
    train, search = expand_commands(reg, reg.condition("c"), cache=tmp_path / "cache")
    assert train[-4:] == ["--output", str(tmp_path / "cache" / "models" / "student"), "--seed", "8"]
    assert search[-1] == str(tmp_path / "cache" / "reproduce" / "v" / "c.run")
    assert "--encoder ~/.cache/tctcb/models/student" in render_doc(reg)


@pytest.mark.parametrize("body, message", [
    ("name: x\ntitle: t\nconditions: []\n", "non-empty list"),
    ("name: other\ntitle: t\nconditions: [{name: a, commands: ['python {run}'], qrels: q, scores: {AP: 1}}]\n",
     "differs from the file name"),
    ("name: x\ntitle: t\ncolour: red\nconditions: []\n", "unknown key"),
    ("name: x\ntitle: t\nconditions: [{name: a, commands: ['python {run} {oops}'], qrels: q, scores: {AP: 1}}]\n",
     "unknown placeholder"),
    ("name: x\ntitle: t\nconditions: [{name: a, commands: ['python x.py'], qrels: q, scores: {AP: 1}}]\n",
     "no command writes {run}"),
    ("name: x\ntitle: t\nconditions: [{name: a, commands: ['python {run}'], qrels: q, scores: {nDCG@x: 1}}]\n",
     "unknown metric"),
    ("name: x\ntitle: t\nconditions: [{name: a, commands: ['python {run}'], qrels: q, scores: {AP: high}}]\n",
     "must be numbers"),
    ("name: x\ntitle: t\nconditions: [{name: a, commands: ['python {run}'], qrels: q, scores: {AP: 1}},"
     " {name: a, commands: ['python {run}'], qrels: q, scores: {AP: 1}}]\n", "duplicate condition"),
    ("name: x\ntitle: [unclosed\n", "cannot read YAML"),
    ("name: x\ntitle: t\nvars: {m: '{nope}'}\nconditions: [{name: a, commands: ['python {run}'], qrels: q, "
     "scores: {AP: 1}}]\n", "only built-in placeholders"),
    ("name: x\ntitle: t\nconditions: [{name: a, commands: ['python {run}'], qrels: '{where}/q', scores: {AP: 1}}]\n",
     "qrels: unknown placeholder"),
    ("name: x\ntitle: t\nconditions: [{name: off, commands: ['python {run}'], qrels: q, scores: {AP: 1}}]\n",
     "is not a string"),
    ("name: x\ntitle: t\nconditions: [{name: a, ci: sometimes, commands: ['python {run}'], qrels: q, "
     "scores: {AP: 1}}]\n", "ci: true or false"),
])
def test_schema_errors(tmp_path, body, message):
    path = tmp_path / "x.yaml"
    path.write_text(body)
    with pytest.raises(RegressionError, match="x.yaml") as e:
        load_regression(path)
    assert message in str(e.value)


def test_repository_regressions_load():
    names = list_regressions()
    assert {"cacm-bm25", "nfcorpus-test", "scifact-test", "cranfield", "adi", "dl19-pool"} <= set(names)
    cacm = load_regression("cacm-bm25")
    assert {e.metric: e.expected for e in cacm.condition("bm25").scores} == {"MAP": 0.3123, "P@30": 0.1942}
    assert load_regression("dl19-pool").condition("bm25").rel_level == 2
    assert regressions_dir().name == "regressions"


def test_ci_flag(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: c\ntitle: t\nconditions: [{name: a, commands: ['python {run}'], qrels: q, scores: {AP: 1}},"
                    " {name: b, ci: false, commands: ['python {run}'], qrels: q, scores: {AP: 1}}]\n")
    reg = load_regression(path)
    assert [c.ci for c in reg.conditions] == [True, False]


def test_docs_are_generated_and_not_stale(tmp_path):
    # The repository's docs/regressions must match the YAML: run `python -m tctcb.reproduce --write-docs`.
    assert stale_docs() == []
    out = tmp_path / "docs"
    written = write_docs(out_dir=out)
    assert sorted(p.stem for p in written) == list_regressions()
    text = (out / "cacm-bm25.md").read_text()
    assert "| bm25 | MAP | 0.3123 |" in text and "python -m tctcb.search --topics cacm --sparse-index cacm" in text
    assert text == render_doc(load_regression("cacm-bm25"))
    (out / "cacm-bm25.md").write_text(text.replace("0.3123", "0.3124"))
    (out / "orphan.md").write_text("old\n")
    assert stale_docs(out_dir=out) == ["cacm-bm25", "orphan (no YAML)"]


def test_tables_in_pages_filled_from_yaml(regs):
    from tctcb.reproduce import RegressionError
    from tctcb.reproduce._docs import fill_tables

    page = ("intro\n<!-- tctcb-table fake conditions=good,too-low,fake-ok/good metrics=AP,RR@10 -->\nold\n"
            "<!-- /tctcb-table -->\nafter\n")
    out = fill_tables(page)
    assert out == ("intro\n<!-- tctcb-table fake conditions=good,too-low,fake-ok/good metrics=AP,RR@10 -->\n"
                   "| condition | AP | RR@10 |\n|---|---:|---:|\n| good | 0.6667 | 0.7500 |\n| too-low | 0.7000 | – |\n"
                   "| fake-ok/good | 0.6667 | – |\n<!-- /tctcb-table -->\nafter\n")
    assert fill_tables(out) == out  # idempotent
    with pytest.raises(RegressionError, match="no condition 'nope'"):
        fill_tables("<!-- tctcb-table fake conditions=nope -->\n<!-- /tctcb-table -->")
    with pytest.raises(RegressionError, match="unknown option"):
        fill_tables("<!-- tctcb-table fake colour=red -->\n<!-- /tctcb-table -->")
    with pytest.raises(RegressionError, match=r"no listed condition has \['nDCG@10'\]"):  # a metric typo
        fill_tables("<!-- tctcb-table fake conditions=good metrics=AP,nDCG@10 -->\n<!-- /tctcb-table -->")


def test_archive_is_outside_the_matrix_and_tables_read_it(regs, capsys):
    from tctcb.reproduce._docs import fill_tables

    arch = regs / "archive"
    arch.mkdir()
    header = (regs / "fake-ok.yaml").read_text().split("conditions:")[0]  # same vars: continues fake-ok
    (arch / "fake-ok.yaml").write_text(header + "conditions:\n" + textwrap.indent(
        _condition("extra", "ok", "{AP: 0.6667}"), "  "))
    assert arch == archive_dir() and list_regressions(arch) == ["fake-ok"]
    assert list_regressions() == ["fake", "fake-ok"]  # the matrix does not read archive/
    assert [c.name for c in load_regression("archive/fake-ok").conditions] == ["extra"]
    assert main(["--regressions-dir", str(arch), "--list"]) == 0
    assert "  extra: AP 0.6667" in capsys.readouterr().out
    assert main(["--regressions-dir", str(arch), "fake-ok", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "# fake-ok / extra"
    assert main(["archive/fake-ok", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "# fake-ok / extra"
    # a bare name the archived file lacks comes from the kept file of the same name; prefixes work as before
    page = ("<!-- tctcb-table archive/fake-ok conditions=extra,good,archive/fake-ok/extra,fake/too-low metrics=AP -->\n"
            "<!-- /tctcb-table -->")
    assert fill_tables(page).splitlines()[1:-1] == [
        "| condition | AP |", "|---|---:|", "| extra | 0.6667 |", "| good | 0.6667 |",
        "| archive/fake-ok/extra | 0.6667 |", "| fake/too-low | 0.7000 |"]
    with pytest.raises(RegressionError, match="no condition 'nope'"):
        fill_tables("<!-- tctcb-table archive/fake-ok conditions=nope -->\n<!-- /tctcb-table -->")
    for flag in ("--check-docs", "--write-docs"):  # the archive has no pages; never overwrite the matrix's
        assert main(["--regressions-dir", str(arch), flag]) == 2
        assert "no generated pages" in capsys.readouterr().err


def test_repository_archive_continues_the_matrix():
    # resources/regressions/archive/NAME.yaml continues NAME.yaml: same vars and tolerance, no shared condition
    # name, and no kept condition reads a {work} path that only an archived condition writes.
    import yaml

    archived = list_regressions(archive_dir())
    assert {"nfcorpus-kd-long", "scifact-kd-long", "nfcorpus-kd", "scifact-kd"} <= set(archived)
    assert not {"nfcorpus-kd", "scifact-kd"} & set(list_regressions())
    for name in archived:
        arch = load_regression(f"archive/{name}")
        assert not any(c.ci for c in arch.conditions), f"archive/{name}: archived conditions are ci: false"
        if name not in list_regressions():
            continue
        kept = load_regression(name)
        assert not {c.name for c in kept.conditions} & {c.name for c in arch.conditions}
        raw = [yaml.safe_load(r.path.read_text(encoding="utf-8")) for r in (kept, arch)]
        assert raw[0].get("vars") == raw[1].get("vars") and raw[0].get("tolerance") == raw[1].get("tolerance")
        written: list[str] = []
        for cond in kept.conditions:
            for cmd in cond.commands:
                outs = [cmd[i + 1] for i, t in enumerate(cmd[:-1]) if t == "--output"]
                for tok in cmd:
                    if tok.startswith("{work}/") and tok not in outs:
                        assert any(tok == o or tok.startswith(o + "/") or o.startswith(tok + "/") for o in written), \
                            f"{name}/{cond.name} reads {tok}, which no earlier kept condition writes"
                written += [o for o in outs if o.startswith("{work}/")]
