"""`dataflow-conformance docs`: a correct report on fixture docs written to fail the ways real docs fail."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dataflow_conformance.docsrun import runner as docsrun

FIXTURES = Path(__file__).parent / "fixtures" / "docs" / "project"

# (line, outcome, a fragment of the detail) for every block of the fixture documents
EXPECTED = {
    "about.md": [],
    "pitfalls.md": [
        (3, "failed", "ImportError: cannot import name 'DataFlowTurbo'"),
        (7, "failed", "ModuleNotFoundError: No module named 'dataflow.enterprise'"),
        (11, "skipped", "needs an_optional_extra_nobody_installed (not installed)"),
        (15, "failed", "(pseudo-code: `...` stands for code the reader must supply)"),
        (21, "failed", "NameError: name 'db' is not defined (defined by the block at line 15, which failed)"),
        (25, "failed", "(pseudo-code: `...` stands for code the reader must supply)"),
        (33, "failed", "NameError: name 'missing_coroutine' is not defined (no earlier block of the document"),
        (37, "failed", "ValueError: raised inside an awaited coroutine"),
        (45, "failed", "SyntaxError: '(' was never closed"),
        (49, "skipped", "needs a server it cannot connect to (ConnectionRefusedError"),
        (63, "skipped", "needs an optional extra (ImportError: the S3 adapter requires the [cloud] extra"),
    ],
    "quickstart.md": [
        (5, "skipped", "not Python (bash)"),
        (11, "passed", ""),
        (23, "passed", ""),  # uses db and User from the block before
        (30, "passed", ""),  # top-level await
        (35, "skipped", "no code"),
        (42, "passed", ""),  # a >>> session, run as a doctest
        (48, "skipped", "needs a running web server"),  # a skip directive with its reason
        (54, "skipped", "not Python (no language)"),
    ],
}


def run_cli(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "dataflow_conformance.cli", "docs", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def outcomes(report: dict) -> dict:
    return {d["name"]: [(b["line"], b["outcome"], b["detail"]) for b in d["blocks"]] for d in report["documents"]}


def test_report_on_the_fixture_docs(tmp_path):
    done = run_cli(
        FIXTURES,
        "--dataflow-impl",
        "dataflow_reference",
        "--report",
        tmp_path / "r.json",
        "--markdown",
        tmp_path / "r.md",
    )
    assert done.returncode == 1, done.stderr  # blocks failed
    report = json.loads((tmp_path / "r.json").read_text())
    found = outcomes(report)
    assert sorted(found) == sorted(EXPECTED)
    for name, blocks in EXPECTED.items():
        assert [(line, outcome) for line, outcome, _ in found[name]] == [(line, outcome) for line, outcome, _ in blocks]
        for (_, _, detail), (line, _, fragment) in zip(found[name], blocks, strict=True):
            assert fragment in detail, f"{name}, line {line}: {detail!r} lacks {fragment!r}"
    assert report["totals"] == {"documents": 3, "blocks": 19, "passed": 4, "failed": 8, "skipped": 7}
    assert report["implementation"]["module"] == "dataflow_reference"
    assert [d["note"] for d in report["documents"] if d["name"] == "about.md"] == ["no code"]
    assert done.stdout.rstrip().endswith("19 blocks in 3 documents: 4 ran without error, 8 failed, 7 skipped")
    assert "| pitfalls.md | 45 | python | failed | SyntaxError" in (tmp_path / "r.md").read_text()


def _servers():
    urls = {"postgresql": os.environ.get("DFC_POSTGRESQL_URL"), "mysql": os.environ.get("DFC_MYSQL_URL")}
    return [pytest.param(None, id="sqlite")] + [pytest.param(url, id=name) for name, url in urls.items() if url]


@pytest.mark.parametrize("server", _servers())
def test_each_document_gets_a_database_of_its_own(tmp_path, server):
    (tmp_path / "a.md").write_text((FIXTURES / "quickstart.md").read_text())
    # Another User with other columns: it only works when the documents do not share tables.
    (tmp_path / "b.md").write_text(
        "```python\nfrom dataflow import DataFlow\n\ndb = DataFlow()  # DATABASE_URL: this document's database\n\n"
        "@db.model\nclass User:\n    title: str\n\n"
        'assert db.express_sync.create("User", {"title": "t"})["id"] == 1\n```\n'
    )
    args = [tmp_path, "--dataflow-impl", "dataflow_reference", "--report", tmp_path / "r.json"]
    done = run_cli(*args, *(["--dataflow-dburi", server] if server else []), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["failed"] == 0 and report["totals"]["passed"] == 5
    assert report["database"] == (server.split(":")[0] if server else "sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md", "r.json"], "examples wrote into the cwd"


def test_a_published_readme_inside_a_wheel_or_its_metadata(tmp_path):
    metadata = (
        "Metadata-Version: 2.4\nName: example\nVersion: 1.0\nDescription-Content-Type: text/markdown\n\n"
        "# Example\n\n```python\nfrom dataflow import DataFlow\n\nassert DataFlow\n```\n\n```bash\npip install example\n```\n"
    )
    wheel = tmp_path / "example-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("example-1.0.dist-info/METADATA", metadata)
    (tmp_path / "METADATA").write_text(metadata)
    for path in (wheel, tmp_path / "METADATA"):
        done = run_cli(path, "--dataflow-impl", "dataflow_reference")
        assert done.returncode == 0, done.stderr
        assert "line     3  python           ran" in done.stdout  # lines of the long description
        assert done.stdout.rstrip().endswith("2 blocks in 1 document: 1 ran without error, 0 failed, 1 skipped")


@pytest.mark.parametrize(
    "args, message",
    [
        (["nowhere/docs"], "nowhere/docs does not exist"),
        (
            [FIXTURES / "quickstart.md", "--dataflow-impl", "no_such_module"],
            "--dataflow-impl=no_such_module: no module",
        ),
        (
            [FIXTURES / "quickstart.md", "--dataflow-impl", "json"],
            "--dataflow-impl=json: the module has no DataFlow class",
        ),
        ([FIXTURES / "quickstart.md", "--dataflow-dburi", "oracle://scott@host/db"], "unknown scheme 'oracle'"),
        ([Path(__file__)], "expected a directory, a Markdown file, a wheel or a METADATA file"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, args, message):
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_the_published_module_name_is_restored_after_a_run(tmp_path):
    (tmp_path / "a.md").write_text(
        "```python\nimport dataflow\n\nassert dataflow.__name__ == 'dataflow_reference'\n```\n"
    )
    before = sys.modules.get("dataflow")
    report = docsrun.run_docs(tmp_path / "a.md", impl="dataflow_reference")
    assert [b.outcome for b in report.documents[0].blocks] == ["passed"]
    assert sys.modules.get("dataflow") is before


def test_a_block_that_hangs_is_stopped_and_the_next_one_runs(tmp_path):
    (tmp_path / "slow.md").write_text("```python\nimport time\n\ntime.sleep(30)\n```\n\n```python\nx = 1\n```\n")
    report = tmp_path / "r.json"
    done = run_cli(tmp_path / "slow.md", "--dataflow-impl", "dataflow_reference", "--timeout", "1", "--report", report)
    assert done.returncode == 1
    blocks = json.loads(report.read_text())["documents"][0]["blocks"]
    assert [(b["outcome"], b["detail"]) for b in blocks] == [("failed", "timed out after 1 s"), ("passed", "")]
