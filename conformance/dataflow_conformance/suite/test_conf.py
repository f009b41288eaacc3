"""CONF: construction, URLs and lifecycle."""

import contextlib
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from .support import define_user, expect_failure


@pytest.mark.clause("CONF-001")
def test_zero_config_defaults_to_sqlite(dataflow_impl, flow, monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # a file-based default must not litter the caller's directory
    db = dataflow_impl.DataFlow()
    try:
        define_user(db)
        created = flow.node("UserCreateNode", {"name": "Zero", "email": "zero@example.com"}, db=db)
        read = flow.node("UserReadNode", {"id": created["id"]}, db=db)
        assert (read["name"], read["email"]) == ("Zero", "zero@example.com")
    finally:
        db.close()


@pytest.mark.clause("CONF-002")
def test_database_url_environment_variable(dataflow_impl, database_url, probe, flow, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    db = dataflow_impl.DataFlow()
    try:
        define_user(db)
        flow.node("UserCreateNode", {"name": "Env", "email": "env@example.com"}, db=db)
        assert [row["name"] for row in probe.rows("users")] == ["Env"]
    finally:
        db.close()


def _url_forms(backend, database_url, tmp_path):
    if not backend.features.server:
        absolute = tmp_path / "absolute.db"
        return [
            ("sqlite:///relative.db", tmp_path / "relative.db"),
            (f"sqlite:///{absolute}", absolute),
            ("sqlite:///:memory:", None),
        ]
    rendered = make_url(database_url).render_as_string(hide_password=False).split("://", 1)[1]
    return [(f"{scheme}://{rendered}", "server") for scheme in backend.features.url_schemes]


@pytest.mark.clause("CONF-003")
def test_documented_url_forms(dataflow_impl, backend, database_url, probe, flow, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for index, (url, where) in enumerate(_url_forms(backend, database_url, tmp_path)):
        db = dataflow_impl.DataFlow(url)
        try:
            define_user(db)
            email = f"form{index}@example.com"
            created = flow.node("UserCreateNode", {"name": url.split(":", 1)[0], "email": email}, db=db)
            assert flow.node("UserReadNode", {"id": created["id"]}, db=db)["email"] == email
        finally:
            db.close()
        if where == "server":
            assert email in [row["email"] for row in probe.rows("users")], f"{url}: the record is not in the database"
            probe.execute("DELETE FROM users")
        elif where is not None:
            assert Path(where).exists(), f"{url}: no database file at {where}"


@pytest.mark.clause("CONF-004")
@pytest.mark.parametrize(
    "url, named",
    [("nosuchdb://host/db", "nosuchdb"), ("oracle+cx://scott@host/db", "oracle"), ("just some words", "url")],
)
def test_bad_url_fails_at_construction(dataflow_impl, url, named):
    def construct():
        db = dataflow_impl.DataFlow(url)
        close = getattr(db, "close", None)
        if close:
            close()

    expect_failure(construct, named)


@pytest.mark.clause("CONF-005")
def test_create_tables_creates_at_once(make_dataflow, probe):
    db = make_dataflow()
    define_user(db)
    db.create_tables()
    assert "users" in probe.tables()


def _healthy(status) -> bool:
    if isinstance(status, dict):
        return status.get("healthy") is True or str(status.get("status", "")).lower() in ("healthy", "ok")
    return status is True


@pytest.mark.clause("CONF-006")
def test_health_check_reports_healthy(make_dataflow):
    db = make_dataflow()
    define_user(db)
    status = db.health_check()
    assert _healthy(status), f"health_check() returned {status!r}"


@pytest.mark.clause("CONF-006")
def test_health_check_reports_an_unreachable_server(dataflow_impl, backend, tmp_path):
    """A health check that cannot reach its database says so (or raises); it never reports healthy."""
    (tmp_path / "a-file").write_text("not a directory")
    if backend.features.server:
        unreachable = f"{backend.features.scheme}://nobody@127.0.0.1:9/nowhere"  # port 9 (discard): nothing listens
    else:
        unreachable = f"sqlite:///{tmp_path}/a-file/x.db"  # no implementation can make a directory there
    db = dataflow_impl.DataFlow(unreachable)
    try:
        status = db.health_check()
    except Exception:
        return  # raising is an acceptable way to say unhealthy
    finally:
        with contextlib.suppress(Exception):
            db.close()
    assert not _healthy(status), f"health_check() of an unreachable {backend.name} database returned {status!r}"


@pytest.mark.clause("CONF-007")
def test_close_releases_connections(dataflow_impl, backend, database_url, probe, flow):
    if not backend.features.server and not sys.platform.startswith("linux"):
        pytest.skip("counting SQLite file handles needs Linux /proc")
    db = dataflow_impl.DataFlow(database_url)
    define_user(db)
    for index in range(3):
        flow.node("UserCreateNode", {"name": "c", "email": f"c{index}@example.com"}, db=db)
    db.close()
    assert probe.connections_after_close() == 0, "connections are still open after close()"
