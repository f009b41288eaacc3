"""`dataflow-conformance docs`: a correct report on fixture corpora written to fail the ways real docs fail
(tests/fixtures/docs/: nested and tilde fences, fragments, cascades, URLs to rewrite, servers and packages
the run lacks, documented output, redefinitions, blocks that hang, a thread left behind, a warning)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
CORPUS = FIXTURES / "corpus"

# (line, outcome, a fragment of the detail) for every block of the corpus
EXPECTED = {
    "fences.md": [
        (5, "passed", ""),  # a four-backtick fence showing a three-backtick one
        (14, "passed", ""),  # tildes
        (20, "passed", ""),  # in a list item, using the name the tilde block defined
        (25, "not-python", "not Python (bash)"),
        (29, "failed", "the fence is never closed"),
    ],
    "fragments.md": [
        (3, "fragment", "signatures only"),
        (7, "fragment", "signatures only"),
        (12, "fragment", "elision: `...` stands for a value the reader supplies (line 16)"),
        (19, "fragment", "excerpt: indented code"),
        (24, "blocked", "uses builder from the block at line 12 (fragment)"),
        (28, "failed", "ImportError: cannot import name 'DataFlowTurbo'"),
        (34, "blocked", "uses turbo from the block at line 28 (failed)"),
        (38, "fragment", "no code (comments only)"),
        (42, "skipped", "decided: uses a name the page never defines"),
        (46, "fragment", "decided: shows a value, not a step"),
    ],
    "guide/redefine.md": [
        (3, "passed", ""),
        (12, "passed", ""),  # the same node again: a new workflow, as a separate example
        (17, "passed", ""),
        (29, "passed", ""),  # the same table again
        (38, "skipped", "skip directive: shows a block the runner must not run"),
        (42, "passed", ""),  # warns, but not from the implementation
    ],
    "needs.md": [
        (3, "passed", ""),  # a PostgreSQL URL on a host that does not exist: rewritten to the run's database
        (10, "skipped", "needs a server: Redis at 127.0.0.1:6379 (not configured for this run)"),
        (16, "skipped", "needs a server: HTTP at api.example.com:80"),
        (22, "failed", "No module named 'kailash_dataflow' (no module `kailash_dataflow` exists"),
        (26, "skipped", "needs the package some-optional-sdk"),
        (30, "failed", "`dataflow` is installed but has no module `dataflow.enterprise`"),
    ],
    "output.md": [
        (3, "passed", ""),
        (8, "failed", "printed output differs from the output the page shows"),
        (13, "failed", "printed output differs"),  # a >>> session
        (20, "passed", ""),
        (26, "not-python", "the output of the block at line 20"),
        (30, "passed", ""),
        (36, "not-python", "the output of the block at line 30"),
    ],
}


def run_cli(*args, cwd=None, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "dataflow_conformance.cli", "docs", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment | (env or {}),
        timeout=600,
    )


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    done = run_cli(
        CORPUS,
        "--dataflow-impl=dataflow_reference",
        "--decisions",
        CORPUS / "decisions.toml",
        "--jobs=2",
        *("--report", out / "r.json", "--markdown", out / "r.md", "--html", out / "r.html", "--junit", out / "r.xml"),
        cwd=out,
    )
    return done, json.loads((out / "r.json").read_text()), out


def test_every_block_of_the_corpus_gets_its_outcome(corpus_run):
    done, report, _ = corpus_run
    assert done.returncode == 1, done.stderr  # blocks failed
    found = {p["name"]: [(b["line"], b["outcome"], b.get("detail", "")) for b in p["blocks"]] for p in report["pages"]}
    assert sorted(found) == sorted(EXPECTED), "the decisions file excludes guide/skipped-page.md"
    for name, blocks in EXPECTED.items():
        assert [(line, outcome) for line, outcome, _ in found[name]] == [(line, outcome) for line, outcome, _ in blocks]
        for (_, _, detail), (line, _, fragment) in zip(found[name], blocks, strict=True):
            assert fragment in detail, f"{name}, line {line}: {detail!r} lacks {fragment!r}"
    totals = report["totals"]
    assert (totals["python"], totals["passed"], totals["failed"], totals["blocked"]) == (31, 12, 6, 2)
    assert (totals["fragment"], totals["skipped"], totals["not-python"]) == (6, 5, 3)


def test_rewritten_urls_and_redefinitions_are_stated(corpus_run):
    _, report, _ = corpus_run
    blocks = {(p["name"], b["line"]): b for p in report["pages"] for b in p["blocks"]}
    assert blocks[("needs.md", 3)]["rewritten"] == ["postgresql://user:secret@db.internal.example:5432/app"]
    assert report["totals"]["rewritten"] == 1
    assert (
        "a new `workflow` (WorkflowBuilder): the block adds node 'step' again"
        in blocks[("guide/redefine.md", 12)]["notes"][0]
    )
    assert "table 'users' declared again" in blocks[("guide/redefine.md", 29)]["notes"][0]
    assert "warnings" not in blocks[("guide/redefine.md", 42)], "the example's own warning is not the implementation's"


def test_root_causes_are_grouped_with_their_pages_and_lines(corpus_run):
    _, report, out = corpus_run
    causes = {c["error"]: c for c in report["causes"]}
    assert causes["printed output differs from the output the page shows"]["blocks"] == ["output.md:8", "output.md:13"]
    assert report["causes"][0]["count"] == 2  # most frequent first
    assert "ModuleNotFoundError: No module named 'kailash_dataflow'" in causes
    assert report["top10_share"] == 1.0
    assert "/work" not in (out / "r.json").read_text().replace(str(out), ""), "no machine paths in the report"


def test_the_report_formats(corpus_run):
    done, report, out = corpus_run
    markdown = (out / "r.md").read_text()
    assert "| 2 | 1 | printed output differs from the output the page shows |" in markdown
    assert "| fragments.md | 10 | 0 | 0 | 1 | 2 | 6 | 1 |" in markdown  # per page totals
    html = (out / "r.html").read_text()
    assert 'id="needs.md:22"' in html and "<summary>traceback</summary>" in html and "kailash_dataflow" in html
    suites = ET.parse(out / "r.xml").getroot()
    assert suites.get("tests") == "31" and suites.get("failures") == "6"
    case = suites.find("testsuite[@name='fragments.md']/testcase[@name='line 34']/skipped")
    assert case is not None and case.get("message").startswith("blocked: ")
    progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 5 and any(line.startswith("[5/5] ") for line in progress)
    assert done.stdout.rstrip().endswith(
        "31 Python blocks in 5 pages: 12 passed, 0 warned, 6 failed, 2 blocked by an earlier block, "
        "6 fragments, 5 skipped; 3 not Python"
    )


def test_blocks_that_do_not_stop_a_thread_left_behind_and_a_warning(tmp_path):
    """stops.md: a block past its limit fails and the next runs; a block that swallows the limit's exception
    is stopped by ending its page's process; the page's thread does not keep anything alive. warns.md: an
    implementation's warning is part of the outcome."""
    done = run_cli(
        FIXTURES / "stops",
        "--dataflow-impl=acme_dataflow",
        "--timeout=1",
        "--report",
        tmp_path / "r.json",
        env={"PYTHONPATH": os.pathsep.join([str(FIXTURES / "acme"), os.environ.get("PYTHONPATH", "")])},
    )
    assert done.returncode == 1, done.stderr
    pages = {p["name"]: p["blocks"] for p in json.loads((tmp_path / "r.json").read_text())["pages"]}
    assert [(b["line"], b["outcome"], b["detail"]) for b in pages["stops.md"]] == [
        (3, "failed", "BlockTimeout: timed out after 1 s"),
        (9, "passed", ""),
        (17, "failed", "did not stop at its time limit (1 s)"),
        (27, "blocked", "not run: did not stop at its time limit (1 s) at line 17"),
    ]
    (warned,) = pages["warns.md"]
    assert warned["outcome"] == "warned"
    assert warned["warnings"] == ["UserWarning: cache_ttl has no effect and is ignored"]


def test_isolation_per_block(tmp_path):
    (tmp_path / "a.md").write_text("```python\nx = 1\n```\n\n```python\nassert x == 1\n```\n")
    done = run_cli(
        tmp_path / "a.md", "--dataflow-impl=dataflow_reference", "--isolation=block", "--report", tmp_path / "r.json"
    )
    blocks = json.loads((tmp_path / "r.json").read_text())["pages"][0]["blocks"]
    assert [b["outcome"] for b in blocks] == ["passed", "blocked"], done.stderr
    assert blocks[1]["blocked_by"] == 1 and "uses x from the block at line 1 (passed)" in blocks[1]["detail"]


def _servers():
    urls = {"postgresql": os.environ.get("DFC_POSTGRESQL_URL"), "mysql": os.environ.get("DFC_MYSQL_URL")}
    return [pytest.param(None, id="sqlite")] + [pytest.param(url, id=name) for name, url in urls.items() if url]


@pytest.mark.parametrize("server", _servers())
def test_each_page_gets_a_database_of_its_own_and_urls_point_at_it(tmp_path, server):
    # The same model with other columns on each page: it only works when pages do not share tables.
    for name, field in (("a", "name"), ("b", "title")):
        (tmp_path / f"{name}.md").write_text(
            "```python\nfrom dataflow import DataFlow\n\n"
            'db = DataFlow("postgresql://user:secret@localhost:5432/mydb")  # the reader\'s own URL\n\n'
            f"@db.model\nclass User:\n    {field}: str\n\n"
            f'assert db.express_sync.create("User", {{"{field}": "t"}})["id"] == 1\n```\n'
        )
    args = [tmp_path, "--dataflow-impl=dataflow_reference", "--jobs=2", "--report", tmp_path / "r.json"]
    done = run_cli(*args, *(["--dataflow-dburi", server] if server else []), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["passed"] == 2 and report["totals"]["rewritten"] == 2
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
        done = run_cli(path, "--dataflow-impl", "dataflow_reference", "-q")
        assert done.returncode == 0, done.stderr
        assert "line     3  python                 passed" in done.stdout  # lines of the long description
        assert "1 Python block in 1 page: 1 passed" in done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["nowhere/docs"], "nowhere/docs does not exist"),
        ([CORPUS / "fences.md", "--dataflow-impl", "no_such_module"], "--dataflow-impl=no_such_module: no module"),
        ([CORPUS / "fences.md", "--dataflow-impl", "json"], "--dataflow-impl=json: the module has no DataFlow class"),
        ([CORPUS / "fences.md", "--dataflow-dburi", "oracle://scott@host/db"], "unknown scheme 'oracle'"),
        ([Path(__file__)], "expected a directory, a Markdown file, a wheel or a METADATA file"),
        ([CORPUS, "--include", "nothing/*"], "matches the include/exclude globs"),
        ([CORPUS, "--decisions", "no-such-corpus"], "no decisions file no-such-corpus"),
        ([CORPUS / "fences.md", "--isolation", "module"], "invalid choice: 'module'"),
    ],
)
def test_bad_input_is_a_usage_error(tmp_path, args, message):
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_decision_that_names_no_block_is_refused(tmp_path):
    (tmp_path / "stale.toml").write_text(
        '[[block]]\npage = "fences.md"\nline = 6\ndecision = "skip"\nreason = "line 6 is inside a block"\n'
    )
    done = run_cli(CORPUS / "fences.md", "--decisions", tmp_path / "stale.toml", cwd=tmp_path)
    assert done.returncode == 2 and "no Python block starts at fences.md:6" in done.stderr, done.stderr


def test_a_page_whose_process_fails_outside_its_blocks_is_a_harness_error(tmp_path):
    """Exit status 3 (the runner failed), not 1 (a block failed): here the page's process cannot import the
    implementation, which the runner checked in a process of its own."""
    (tmp_path / "flaky_dataflow.py").write_text(
        "import os\n\nif os.environ.get('DATABASE_URL'):\n    raise RuntimeError('only in a page process')\n\n"
        "class DataFlow:\n    pass\n"
    )
    (tmp_path / "a.md").write_text("```python\nx = 1\n```\n")
    done = run_cli(tmp_path / "a.md", "--dataflow-impl=flaky_dataflow", "--report", tmp_path / "r.json",
                   cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})  # fmt: skip
    assert done.returncode == 3, done.stderr
    page = json.loads((tmp_path / "r.json").read_text())["pages"][0]
    assert "only in a page process" in page["harness_error"]


READER = FIXTURES / "reader"
ACME = {"PYTHONPATH": os.pathsep.join([str(FIXTURES / "acme"), os.environ.get("PYTHONPATH", "")])}


def test_what_a_reader_meets(tmp_path):
    """reader/: a failing assert (its values and line), a client whose driver is missing (its later calls
    are skipped with that need), warnings of dropped objects (in the block that dropped them, whatever the
    collector's timing), two programs on one page, and `bash run` blocks."""
    done = run_cli(READER, "--dataflow-impl=acme_dataflow", "--decisions", READER / "decisions.toml",
                   "--report", tmp_path / "r.json", cwd=tmp_path, env=ACME)  # fmt: skip
    assert done.returncode == 1, done.stderr
    pages = {
        p["name"]: {b["line"]: b for b in p["blocks"]} for p in json.loads((tmp_path / "r.json").read_text())["pages"]
    }
    found = {name: [(line, b["outcome"], b["detail"]) for line, b in blocks.items()] for name, blocks in pages.items()}
    assert found["asserts.md"] == [(3, "failed", "AssertionError: the count: assert 2 == 3")]
    assert pages["asserts.md"][3]["at"] == "asserts.md:6"
    assert found["clients.md"] == [
        (3, "passed", ""),
        (9, "skipped", "needs the package some-optional-sdk (the acme client's driver) (not installed)"),
        (
            13,
            "skipped",
            "needs the package some-optional-sdk (the acme client's driver) (not installed): "
            "acme_dataflow could not connect without it (line 9)",
        ),  # fmt: skip
        (17, "skipped", "needs the package some-optional-sdk (the acme client's driver) (not installed)"),
        (21, "failed", "ConnectionError: Not connected to anything"),  # the page's own: no need of the client's
    ]
    assert [(line, outcome) for line, outcome, _ in found["garbage.md"]] == [
        (3, "warned"),
        (11, "passed"),
        (15, "passed"),
    ]
    assert pages["garbage.md"][3]["warnings"] == ["ResourceWarning: unclosed Session"]
    assert [outcome for _, outcome, _ in found["programs.md"]] == ["passed"] * 4
    assert "runs in the program 'before'" in pages["programs.md"][25]["notes"][0]
    assert found["shell.md"] == [
        (3, "passed", ""),
        (7, "passed", ""),
        (13, "failed", "CommandFailed: the block exited with status 3: no greeting today"),
    ]
    assert "(of which 2 `bash run`)" in done.stdout


def test_modules_of_the_directory_the_command_runs_in_are_importable(tmp_path):
    (tmp_path / "shop_helpers.py").write_text("PRICE = 3\n")
    (tmp_path / "page.md").write_text("```python\nfrom shop_helpers import PRICE\n\nassert PRICE == 3\n```\n")
    here = run_cli(tmp_path / "page.md", "--dataflow-impl=dataflow_reference", cwd=tmp_path)
    assert here.returncode == 0, here.stdout + here.stderr
    (tmp_path / "elsewhere").mkdir()
    elsewhere = run_cli(tmp_path / "page.md", "--dataflow-impl=dataflow_reference", cwd=tmp_path / "elsewhere")
    assert elsewhere.returncode == 1 and "No module named 'shop_helpers'" in elsewhere.stdout


def _databases(server: str, prefix: str) -> list[str]:
    from dataflow_conformance.backends.resolve import probe_engine, probe_url
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    url = make_url(server)
    listing = (
        "SELECT datname FROM pg_database WHERE datname LIKE :p"
        if url.get_backend_name().startswith("postgres")
        else "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"
    )
    engine = probe_engine(probe_url(url, url.database))
    try:
        with engine.connect() as conn:
            return conn.execute(text(listing), {"p": prefix.replace("_", r"\_") + "%"}).scalars().all()
    finally:
        engine.dispose()


@pytest.mark.parametrize("server", _servers())
def test_a_stopped_run_ends_its_pages_and_drops_their_databases(tmp_path, server):
    (tmp_path / "docs").mkdir()
    for name in ("a", "b"):
        (tmp_path / "docs" / f"{name}.md").write_text(
            "```python\nimport os\nimport time\nfrom pathlib import Path\n\n"
            f"Path({str(tmp_path / name)!r}).write_text(str(os.getpid()))\ntime.sleep(300)\n```\n"
        )
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    command = [sys.executable, "-m", "dataflow_conformance.cli", "docs", str(tmp_path / "docs"), "--jobs=2"]
    command += [
        "--dataflow-impl=dataflow_reference",
        "--timeout=600",
        *(["--dataflow-dburi", server] if server else []),
    ]
    run = subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        started = run.stderr.readline()  # "docs run: 2 pages, 2 at a time, databases dfc_docs_1a2b3c_* on ..."
        deadline = time.monotonic() + 300
        while not all((tmp_path / name).exists() for name in ("a", "b")) and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = [int((tmp_path / name).read_text()) for name in ("a", "b")]
        if server:
            prefix = re.search(r"databases (dfc_docs_\w+?)_\*", started).group(1)
            assert len(_databases(server, prefix)) == 2, "a database per running page"
        run.send_signal(signal.SIGTERM)
        _, errors = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 128 + signal.SIGTERM, errors
    assert "docs run stopped" in errors
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the pages' processes ended with the run
    if server:
        assert _databases(server, prefix) == [], "the run's databases were dropped"


def test_a_run_killed_outright_leaves_no_page_running(tmp_path):
    """SIGKILL gives the run no chance to end its pages: each page's process ends its own group when it
    finds its runner gone."""
    (tmp_path / "a.md").write_text(
        "```python\nimport os\nimport subprocess\nimport time\nfrom pathlib import Path\n\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"Path({str(tmp_path / 'pids')!r}).write_text(f'{{os.getpid()}} {{child.pid}}')\ntime.sleep(300)\n```\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    command = [sys.executable, "-m", "dataflow_conformance.cli", "docs", str(tmp_path / "a.md"), "-q"]
    run = subprocess.Popen(
        [*command, "--dataflow-impl=dataflow_reference", "--timeout=600"], cwd=tmp_path, env=environment
    )
    deadline = time.monotonic() + 300
    while not (tmp_path / "pids").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    run.kill()
    run.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids), "the page's process and the process it started ended"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has ended, waiting to be reaped


@pytest.mark.parametrize("server", [p for p in _servers() if p.values[0]])
def test_a_page_database_that_cannot_be_created_is_a_harness_error(tmp_path, server):
    (tmp_path / "a.md").write_text("```python\nx = 1\n```\n")
    unreachable = server.rsplit("/", 1)[0] + "/dfc_no_such_database"  # the server refuses: no such database
    done = run_cli(tmp_path / "a.md", "--dataflow-impl=dataflow_reference", "--dataflow-dburi", unreachable,
                   "--report", tmp_path / "r.json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 3, done.stderr
    page = json.loads((tmp_path / "r.json").read_text())["pages"][0]
    assert "the page's database could not be created" in page["harness_error"]


@pytest.mark.parametrize(
    "program, message",
    [
        ('blocks = [3]\nreason = "another application"', "no Python block starts at fences.md:3"),
        ("blocks = [5]", "[[program]] #1 lacks reason (every decision needs a reason)"),
        ('blocks = "5"\nreason = "another application"', "blocks must be a list of line numbers"),
    ],
)
def test_a_program_names_blocks_of_the_page_and_says_why(tmp_path, program, message):
    (tmp_path / "programs.toml").write_text(f'[[program]]\npage = "fences.md"\nname = "other"\n{program}\n')
    done = run_cli(CORPUS / "fences.md", "--decisions", tmp_path / "programs.toml", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_readme_summary_of_docs_reports(corpus_run, tmp_path):
    _, report, out = corpus_run
    (tmp_path / "README.md").write_text("# Project\n\n<!-- docs-summary:start -->\nold\n<!-- docs-summary:end -->\n")
    summary = [sys.executable, "-m", "dataflow_conformance.cli", "docs-summary", str(out / "r.json")]
    done = subprocess.run([*summary, "--update", str(tmp_path / "README.md")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    readme = (tmp_path / "README.md").read_text()
    assert "old" not in readme and readme.startswith("# Project\n\n<!-- docs-summary:start -->\nGenerated by")
    assert f"| passed | {report['totals']['passed']} |" in readme
    top = report["causes"][0]
    assert f"| {top['count']} | `{top['error']}` |" in readme
    (tmp_path / "plain.md").write_text("# No markers\n")
    refused = subprocess.run([*summary, "--update", str(tmp_path / "plain.md")], capture_output=True, text=True)
    assert refused.returncode == 2 and "has no <!-- docs-summary:start -->" in refused.stderr
