"""The Django-to-DataFlow migration (migration/) on the reference implementation, on SQLite and on every
configured server (DFC_POSTGRESQL_URL, DFC_MYSQL_URL): a complete copy that `verify` accepts, a second run
that changes nothing, a killed run that resumes, hashes that keep verifying (Django's check_password is the
oracle), and `verify` catching a dropped membership and a re-hashed password.

The source is the load tests' Django project, seeded by Django itself in a process of its own; the
evidence (row counts, stored hashes) is read with plain SQL, independently of the implementation."""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

pytest.importorskip("django", reason="needs the loadtests extra (Django): pip install -e '.[loadtests]'")

from dataflow_conformance.backends.registry import BACKENDS  # noqa: E402
from kailash.nodes.admin.user_management import hash_password  # noqa: E402

from harness.databases import ENV_VARS, scratch_database  # noqa: E402
from migration import passwords  # noqa: E402
from migration.databases import connect, table_name  # noqa: E402
from migration.django_calls import ROOT, django  # noqa: E402
from migration.django_side import KNOWN  # noqa: E402
from migration.migrate import UnverifiableHashes, migrate  # noqa: E402
from migration.schema import TABLES  # noqa: E402
from migration.verify import verify  # noqa: E402

IMPL = "dataflow_reference"
SEEDED_USERS = 6


def quiet(*args, **kwargs):
    pass


@pytest.fixture(scope="session")
def seeded_sources(tmp_path_factory, worker_id):
    """`get(backend)`: one seeded source per backend for the whole run, shared by the test workers (seeding
    runs Django's migrations: seconds per server). The first worker to ask creates and seeds it under a lock;
    the last worker to finish drops it."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # the same folder for every worker of this run
    used = []

    def get(backend: str):
        with _locked(shared / f"migration-{backend}.lock"):
            state = shared / f"migration-{backend}.json"
            if not state.exists():
                url = create_database(backend, shared)
                known = _django(["seed-source", "--source", url, "--users", str(SEEDED_USERS)])
                state.write_text(json.dumps([url, known, django(url)]))
            (shared / f"migration-{backend}-{worker_id}.user").touch()
            used.append(backend)
            return json.loads(state.read_text())

    yield get
    for backend in set(used):
        with _locked(shared / f"migration-{backend}.lock"):
            (shared / f"migration-{backend}-{worker_id}.user").unlink()
            if not list(shared.glob(f"migration-{backend}-*.user")):
                drop_database(backend, json.loads((shared / f"migration-{backend}.json").read_text())[0])
                (shared / f"migration-{backend}.json").unlink()


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def create_database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / f'migration-{uuid.uuid4().hex[:8]}.db'}"
    server = make_url(os.environ[ENV_VARS[backend]])
    name = f"dfc_mig_{uuid.uuid4().hex[:10]}"
    with _admin(os.environ[ENV_VARS[backend]]) as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    return server.set(database=name).render_as_string(hide_password=False)


def drop_database(backend: str, url: str) -> None:
    if backend != "sqlite":
        name = make_url(url).database
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with _admin(os.environ[ENV_VARS[backend]]) as connection:  # connected to the server's own database
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))


@contextlib.contextmanager
def _admin(url: str):
    with connect(url) as connection:
        connection.commit()
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture(params=BACKENDS)
def source(request, seeded_sources):
    """A seeded Django database on one backend: (URL, {username: raw password}, Django's has_perm answers)."""
    backend = request.param
    if backend in ENV_VARS and not os.environ.get(ENV_VARS[backend]):
        pytest.skip(f"{ENV_VARS[backend]} is not set: no {backend} server configured")
    return seeded_sources(backend)


@pytest.fixture
def sqlite_source(seeded_sources):
    """The SQLite source alone, for tests of `verify` itself (what it compares does not depend on the backend)."""
    return seeded_sources("sqlite")


def _django(args: list[str]):
    done = subprocess.run([sys.executable, "-m", "migration", *args], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def count(url: str, sql: str) -> int:
    with connect(url) as connection:
        return connection.execute(text(sql)).scalar()


def source_counts(url: str) -> dict:
    return {t.name: count(url, f"SELECT COUNT(*) FROM ({t.source_sql}) AS rows_") for t in TABLES}


def target_counts(url: str, prefix: str) -> dict:
    return {t.name: count(url, f"SELECT COUNT(*) FROM {table_name(t, prefix)}") for t in TABLES}


def test_migration_copies_every_table_and_verify_agrees(source):
    url, _, answers = source
    first = migrate(url, IMPL, url, "mig_copy", log=quiet)

    assert target_counts(url, "mig_copy") == source_counts(url)
    assert {name: r.inserted for name, r in first.items()} == source_counts(url)
    report = verify(url, IMPL, url, "mig_copy", answers)
    assert report.ok, report.failures()
    users, perms = count(url, "SELECT COUNT(*) FROM auth_user"), count(url, "SELECT COUNT(*) FROM auth_permission")
    assert report.pairs == users * perms  # every (user, permission) pair of the source was compared
    assert any(answers.values()) and not all(answers.values())  # the seed gives both answers


def test_a_second_run_changes_nothing(source):
    url, _, _ = source
    migrate(url, IMPL, url, "mig_twice", log=quiet)
    before = _snapshot(url, "mig_twice")

    second = migrate(url, IMPL, url, "mig_twice", log=quiet)

    assert all(r.inserted == 0 and r.updated == [] and r.extra == [] for r in second.values())
    assert _snapshot(url, "mig_twice") == before  # DataFlow ids and updated_at included


def _snapshot(url: str, prefix: str) -> dict:
    with connect(url) as connection:
        return {
            t.name: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {table_name(t, prefix)} ORDER BY id"))))
            for t in TABLES
        }


def test_a_killed_run_resumes_without_duplicates_or_losses(source):
    url, _, answers = source
    command = [sys.executable, "-m", "migration", "migrate", "--source", url, "--prefix", "mig_kill"]
    process = subprocess.Popen([*command, "--batch-size", "2"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    stored_lines = 0
    for line in process.stdout:  # kill it after its second committed batch, in the middle of the run
        stored_lines += "stored" in line
        if stored_lines == 2:
            process.kill()
            break
    process.wait()
    interrupted = target_counts(url, "mig_kill")
    assert sum(interrupted.values()) < sum(source_counts(url).values())  # the run really stopped part-way

    migrate(url, IMPL, url, "mig_kill", log=quiet)

    assert target_counts(url, "mig_kill") == source_counts(url)
    report = verify(url, IMPL, url, "mig_kill", answers)
    assert report.ok, report.failures()


def test_password_hashes_are_kept_and_keep_verifying(source):
    url, known, _ = source
    migrate(url, IMPL, url, "mig_hash", log=quiet)
    with connect(url) as connection:
        django_hashes = dict(connection.execute(text("SELECT username, password FROM auth_user")).all())
        stored = dict(connection.execute(text("SELECT username, password FROM mig_hash_users")).all())

    assert stored == django_hashes  # byte for byte: never re-hashed, never reset
    assert {passwords.algorithm(stored[name]) for name in KNOWN} == {h or "unusable" for h, _ in KNOWN.values()}
    pairs = [(raw, stored[name]) for name, raw in known.items()]
    pairs += [(raw + "x", stored[name]) for name, raw in known.items()]  # wrong passwords
    pairs += [("", stored["hash-unusable"]), ("!", stored["hash-unusable"])]
    ours = [passwords.check_password(raw, encoded) for raw, encoded in pairs]
    assert ours == django(url, "django-check", pairs)  # Django's check_password, the oracle
    assert ours == [True] * len(known) + [False] * (len(known) + 2)


def test_verify_names_a_membership_the_migration_dropped(sqlite_source):
    url, _, answers = sqlite_source
    migrate(url, IMPL, url, "mig_drop", log=quiet)
    with connect(url) as connection:  # a user of two groups granting different permissions
        user = connection.execute(text("SELECT id FROM auth_user WHERE username = 'seed-000002'")).scalar()
        dropped = connection.execute(text(f"SELECT MIN(id) FROM auth_user_groups WHERE user_id = {user}")).scalar()
        connection.execute(text(f"DELETE FROM mig_drop_memberships WHERE django_id = {dropped}"))
        connection.commit()

    report = verify(url, IMPL, url, "mig_drop", answers)

    assert not report.ok
    failed = {t.name: t for t in report.tables if not t.ok}
    assert list(failed) == ["memberships"]
    assert failed["memberships"].missing == [dropped]
    assert report.disagreements  # the user lost that group's permissions...
    assert {(u, django_says, dataflow_says) for u, _, django_says, dataflow_says in report.disagreements} == {
        (user, True, False)
    }  # ...and nothing else changed
    assert any(str(dropped) in line for line in report.failures())


def test_verify_names_a_password_the_migration_rehashed(sqlite_source):
    url, known, answers = sqlite_source
    migrate(url, IMPL, url, "mig_rehash", log=quiet)
    with connect(url) as connection:
        user = connection.execute(text("SELECT id FROM auth_user WHERE username = 'hash-scrypt'")).scalar()
        new = hash_password(known["hash-scrypt"])  # what a migration re-hashing with Kailash's hasher stores
        connection.execute(
            text("UPDATE mig_rehash_users SET password = :p WHERE django_id = :u"), {"p": new, "u": user}
        )
        connection.commit()

    report = verify(url, IMPL, url, "mig_rehash", answers)

    assert not report.ok
    failed = {t.name: t for t in report.tables if not t.ok}
    assert list(failed) == ["users"]
    assert failed["users"].different == [user]
    assert list(failed["users"].examples[user]) == ["password"]
    assert report.disagreements == []  # permissions are untouched: only the hash differs


def test_an_unverifiable_hash_stops_the_migration_before_any_write(tmp_path):
    """Backend-independent (the check runs before anything is written): SQLite only."""
    with scratch_database("sqlite", tmp_path) as database:
        _django(["seed-source", "--source", database.url, "--users", "2"])
        with connect(database.url) as connection:
            connection.execute(text("UPDATE auth_user SET password = 'crypt$$abcdef' WHERE username = 'hash-scrypt'"))
            user = connection.execute(text("SELECT id FROM auth_user WHERE username = 'hash-scrypt'")).scalar()
            connection.commit()

        with pytest.raises(UnverifiableHashes, match=rf"user {user} \(crypt\)"):
            migrate(database.url, IMPL, database.url, "mig_bad", log=quiet)

        with connect(database.url) as connection:
            tables = set(connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        assert not any(name.startswith("mig_bad") for name in tables)  # no table created, no row written
