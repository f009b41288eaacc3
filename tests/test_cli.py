"""The command line: every bad argument or file is a usage error (exit status 2) that says what is wrong,
status lines go to stderr, and maintainer-only commands refuse to write into an installed kit."""

import json

import pytest
from dataflow_conformance import __version__
from dataflow_conformance.cli import main

REPORT = {"implementation": {"module": "impl", "version": "1"}, "backends": [], "clauses": {}, "verdict": "none"}


def run(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr()


def test_version(capsys):
    code, out = run(["--version"], capsys)
    assert code == 0 and out.out.strip() == f"dataflow-conformance {__version__}"


@pytest.mark.parametrize(
    "make, args, message",
    [
        (None, ["badges", "{path}", "--out", "{dir}"], "no such report"),
        ("not json {", ["badges", "{path}", "--out", "{dir}"], "is not a conformance report (JSON)"),
        ("# A Markdown report\n", ["matrix", "{path}"], "is not a conformance report (JSON)"),
        ('{"verdict": "none"}', ["matrix", "{path}"], "it lacks ['implementation', 'backends', 'clauses']"),
        (json.dumps(REPORT), ["matrix", "{path}", "--update", "{doc}"], "has no <!-- support-matrix:start -->"),
        (json.dumps(REPORT), ["diff", "{path}", "{path}"], "both reports need their tests"),
        (json.dumps(REPORT), ["expectations", "{path}", "--write", "{dir}/x.toml"], "'tests'"),
    ],
    ids=["missing", "not-json", "markdown", "not-a-report", "no-markers", "diff-without-tests", "expectations"],
)
def test_bad_input_is_a_usage_error(tmp_path, capsys, make, args, message):
    path, doc = tmp_path / "report.json", tmp_path / "doc.md"
    if make is not None:
        path.write_text(make)
    doc.write_text("no markers here\n")
    code, out = run([a.format(path=path, dir=tmp_path, doc=doc) for a in args], capsys)
    assert code == 2 and message in out.err, out.err
    assert "Traceback" not in out.err


def test_status_lines_go_to_stderr(tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**REPORT, "backends": [{"name": "sqlite"}]}))
    assert main(["badges", str(path), "--out", str(tmp_path / "badges")]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "wrote" in out.err
