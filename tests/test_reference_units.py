"""Unit checks of the reference implementation's pure-Python parts (no database)."""

import datetime as dt
from decimal import Decimal

import pytest
from dataflow_reference import ConfigurationError, DataFlow, ModelDefinitionError
from dataflow_reference.fieldtypes import check_value
from dataflow_reference.model import parse_model, table_name_for
from dataflow_reference.urls import parse_database_url


@pytest.mark.parametrize(
    "url, backend, driver",
    [
        ("sqlite:///app.db", "sqlite", "sqlite+aiosqlite"),
        ("sqlite:////tmp/app.db", "sqlite", "sqlite+aiosqlite"),
        ("sqlite:///:memory:", "sqlite", "sqlite+aiosqlite"),
        ("postgresql://u:p@h:5432/db", "postgresql", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql", "postgresql+asyncpg"),
        ("mysql://root@h/db", "mysql", "mysql+aiomysql"),
        ("mysql+aiomysql://root@h/db", "mysql", "mysql+aiomysql"),
        ("mariadb://root@h/db", "mysql", "mysql+aiomysql"),
    ],
)
def test_url_forms(url, backend, driver):
    target = parse_database_url(url)
    assert (target.backend, target.url.drivername) == (backend, driver)


@pytest.mark.parametrize(
    "url, named",
    [
        ("mongodb://h/db", "mongodb"),
        ("no scheme", "malformed"),
        ("postgresql://u@/db", "host"),
        ("mysql://root@h", "database"),
        ("postgresql://u@h:70000/db", "port"),
        ("", "non-empty"),
    ],
)
def test_bad_urls(url, named):
    with pytest.raises(ConfigurationError, match=named):
        parse_database_url(url)


def test_password_is_not_leaked():
    with pytest.raises(ConfigurationError) as info:
        parse_database_url("postgresql://u:s3cret@h:99999/db")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    "option", [{"pool_size": 0}, {"pool_max_overflow": -1}, {"pool_timeout": 0}, {"pool_size": True}]
)
def test_bad_pool_options(option):
    with pytest.raises(ConfigurationError, match=next(iter(option))):
        DataFlow("sqlite:///:memory:", **option)


def test_table_names():
    assert [table_name_for(n) for n in ("User", "OrderItem", "Category", "Box", "HTTPLog", "Key")] == [
        "users",
        "order_items",
        "categories",
        "boxes",
        "http_logs",
        "keys",
    ]


def test_model_parsing():
    class Thing:
        name: str
        count: int = 0
        note: str | None = None
        meta: dict = None
        __dataflow__ = {"indexes": [{"name": "uq_things_name", "fields": ["name"], "unique": True}]}

    spec = parse_model(Thing)
    assert spec.table_name == "things" and not spec.id_supplied
    assert spec.fields["name"].required and spec.fields["name"].indexed
    assert not spec.fields["count"].required and spec.fields["note"].nullable and spec.fields["meta"].nullable


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"__annotations__": {"x": set}}, "unsupported type"),
        ({"__annotations__": {"x": int}, "x": "zero"}, "default"),
        ({"__annotations__": {"created_at": dt.datetime}}, "managed"),
        ({"__annotations__": {"workflow_context": dict}}, "'workflow_context'.*takes an input of that name"),
        ({"__annotations__": {"transaction_id": str}}, "'transaction_id'.*takes an input of that name"),
        ({"__annotations__": {"x": int}, "__dataflow__": {"indexes": [{"fields": ["y"]}]}}, "unknown field"),
        ({"__annotations__": {"x": int}, "__dataflow__": {"sharding": True}}, "unknown __dataflow__"),
    ],
)
def test_model_errors(body, problem):
    with pytest.raises(ModelDefinitionError, match=problem):
        parse_model(type("Bad", (), body))


@pytest.mark.parametrize(
    "kind, value, problem",
    [
        ("int", True, "expected int"),
        ("int", 2**63, "64-bit"),
        ("bool", 1, "expected bool"),
        ("float", float("nan"), "finite"),
        ("str", "a\x00b", "NUL"),
        ("str", "\ud800", "surrogate"),
        ("datetime", dt.datetime(2024, 1, 1), "naive"),
        ("date", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), "expected date"),
        ("decimal", Decimal("0.12345678901"), "fractional"),
        ("decimal", 0.5, "inexact"),
        ("decimal", Decimal("1e25"), "integer digits"),
        ("dict", {1: "a"}, "not a string"),
        ("list", [float("inf")], "non-finite"),
        ("dict", {"a": {1, 2}}, "not JSON"),
    ],
)
def test_values_are_refused_not_rewritten(kind, value, problem):
    assert problem in (check_value(kind, value) or "")


@pytest.mark.parametrize(
    "kind, value",
    [
        ("decimal", Decimal("12345678901234567890.0123456789")),
        ("decimal", Decimal("1.10000000000000")),
        ("float", 3),
        ("datetime", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)),
        ("list", [1, "a", None, {"k": []}]),
    ],
)
def test_values_accepted(kind, value):
    assert check_value(kind, value) is None


def test_a_scope_that_never_begins_is_forgotten(tmp_path):
    """A scope that times out waiting for SQLite's write lock is not left registered as open."""
    from dataflow_reference.errors import TransactionError
    from dataflow_reference.transactions import ActiveTransaction

    db = DataFlow(f"sqlite:///{tmp_path}/scopes.db")
    try:
        holder = ActiveTransaction(db.database, rollback_on_error=True, timeout=30)
        waiter = ActiveTransaction(db.database, rollback_on_error=True, timeout=0.2)
        db.runner.run_sync(db.transactions.begin(holder))
        with pytest.raises(TimeoutError):
            db.runner.run_sync(db.transactions.begin(waiter))  # the holder keeps the write lock
        with pytest.raises(TransactionError, match="no transaction scope"):
            db.transactions.get(waiter.id, "commit")
        assert db.transactions.get(holder.id, "commit") is holder
    finally:
        db.close()


def test_a_failed_sqlite_connect_is_over_before_its_loop_closes(tmp_path, monkeypatch):
    """aiosqlite stops the worker thread of a connect that failed without waiting for the stop, whose
    answer then goes to the loop that connected: it must not arrive after close() closed that loop
    (`RuntimeError: Event loop is closed` in the thread). The worker is held here before it stops until
    the loop is closed (or for a bound, when the reference waits for the worker and nothing closes it)."""
    import logging
    import threading

    (tmp_path / "a-file").write_text("not a directory")
    db = DataFlow(f"sqlite:///{tmp_path}/a-file/x.db")  # no connect can succeed: a-file is not a directory
    closed, workers, errors = threading.Event(), [], []

    class HoldTheStop(logging.Handler):
        def emit(self, record):
            if "close_and_stop" in record.getMessage():  # aiosqlite's worker logs each call it runs
                workers.append(threading.current_thread())
                closed.wait(timeout=2)

    monkeypatch.setattr(threading, "excepthook", errors.append)
    logger, handler = logging.getLogger("aiosqlite"), HoldTheStop()
    level = logger.level
    logger.setLevel(logging.DEBUG)  # setLevel: it also clears the loggers' cached answers
    logger.addHandler(handler)
    try:
        assert db.health_check()["status"] == "unhealthy"
        db.close()
    finally:
        closed.set()
        for worker in workers:
            worker.join(timeout=10)
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert workers, "aiosqlite's worker never stopped"
    assert not errors, f"aiosqlite's worker failed: {errors[0].exc_type.__name__}: {errors[0].exc_value}"


def test_sqlite_connections_of_a_closed_loop_are_closed_not_collected(tmp_path):
    """A loop closed without ending its tasks leaves its engine to close(): its aiosqlite connections must be
    closed, not left to the garbage collector, whose finalizer would have their threads answer the collecting
    thread's current loop, closed here (`RuntimeError: Event loop is closed` in the thread)."""
    import asyncio
    import gc
    import threading

    db = DataFlow(f"sqlite:///{tmp_path}/orphans.db")

    @db.model
    class Item:
        name: str

    db.create_tables()
    errors, hook = [], threading.excepthook
    threading.excepthook = errors.append
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        assert loop.run_until_complete(db.express.create("Item", {"name": "x"}))["name"] == "x"
        loop.close()  # its tasks not ended: the engine's keeper never runs
        workers = [t for t in threading.enumerate() if t.name.endswith("(_connection_worker_thread)")]
        db.close()
        gc.collect()
        for worker in workers:
            worker.join(timeout=10)
    finally:
        asyncio.set_event_loop(None)
        threading.excepthook = hook
    assert workers, "no aiosqlite connection was open"
    assert not errors, f"aiosqlite's worker failed: {errors[0].exc_type.__name__}: {errors[0].exc_value}"
    assert not any(worker.is_alive() for worker in workers), "an aiosqlite connection was left open"


def test_sqlite_statement_crosses_to_the_connection_thread_once(tmp_path):
    """A read is one hand-off to aiosqlite's thread, a create two (BEGIN with the INSERT, then COMMIT),
    counted from the worker's own log of each call it runs: four per statement and one per BEGIN and
    COMMIT is what aiosqlite's cursor costs through SQLAlchemy. Fails too if aiosqlite's private
    `Connection._execute`, which the reference queues its statements with, stops working."""
    import asyncio
    import logging

    db = DataFlow(f"sqlite:///{tmp_path}/hops.db")

    @db.model
    class Hop:
        name: str

    db.create_tables()
    calls = []

    class Calls(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("executing"):
                calls.append(record.getMessage())

    async def hand_offs(operation) -> int:
        calls.clear()
        await operation
        return len(calls)

    async def measure():
        created = await db.express.create("Hop", {"name": "warm-up"})  # the loop's pool connects first
        logger.addHandler(handler)
        try:
            read = await hand_offs(db.express.read("Hop", created["id"]))
            create = await hand_offs(db.express.create("Hop", {"name": "counted"}))
        finally:
            logger.removeHandler(handler)
        return read, create, await db.express.count("Hop")

    logger, handler = logging.getLogger("aiosqlite"), Calls()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        read, create, count = asyncio.run(measure())
    finally:
        logger.setLevel(level)
        db.close()
    assert count == 2, "the counted create did not store its record"
    assert (read, create) == (1, 2), f"hand-offs to the connection's thread: read {read}, create {create}"


def _loops_of_a_local_runtime_read(url: str):
    """The loops the instance opened a connection pool on for one LocalRuntime Read, and the runtime's own."""
    from kailash.runtime.local import LocalRuntime
    from kailash.workflow.builder import WorkflowBuilder

    db = DataFlow(url)

    @db.model
    class Hop:
        name: str

    builder = WorkflowBuilder()
    builder.add_node("HopListNode", "list", {"limit": 1})
    try:
        db.create_tables()  # a synchronous call: the home loop's pool
        before = set(db.database.loops_with_engines())
        with LocalRuntime(enable_monitoring=False) as runtime:
            runtime.execute(builder.build())
            return set(db.database.loops_with_engines()) - before, runtime._persistent_loop
    finally:
        db.close()


def test_a_local_runtime_node_on_sqlite_runs_its_io_on_the_runtime_loop(tmp_path):
    """Nothing limits SQLite's connections, so LocalRuntime's own loop does the I/O: no hand-off to the home loop."""
    new, runtime_loop = _loops_of_a_local_runtime_read(f"sqlite:///{tmp_path}/hop.db")
    assert new == {runtime_loop}


def test_a_local_runtime_node_on_a_server_hands_its_io_to_the_home_loop(tmp_path):
    """A loop that runs only during execute() could not give idle connections back under the connection limit."""
    import os

    from harness.databases import scratch_database

    if not os.environ.get("DFC_POSTGRESQL_URL"):
        pytest.skip("needs a PostgreSQL server: set DFC_POSTGRESQL_URL")
    with scratch_database("postgresql", tmp_path) as database:
        new, _ = _loops_of_a_local_runtime_read(database.url)
    assert new == set()  # the home loop's pool, made by create_tables(), served it


def test_idle_connections_asked_for_close_before_their_loop_can_stop(tmp_path):
    """A loop asked for its idle connections (a task on another loop waits for a slot) closes them before it
    can stop, and still counts the connections it has out. A close still waiting for the server when an
    asyncio.Runner returns resumes on whichever thread runs the Runner next, where SQLAlchemy's greenlet
    cannot switch ("cannot switch to a different thread"), and the connection's slot is never given back."""
    import asyncio
    import gc
    import os
    import threading

    from harness.databases import scratch_database

    if not os.environ.get("DFC_POSTGRESQL_URL"):
        pytest.skip("needs a PostgreSQL server: set DFC_POSTGRESQL_URL")
    errors, seen = [], {}

    def in_a_thread(runner, coro):
        outcome = {}

        def run():
            try:
                outcome["value"] = runner.run(coro)
            except BaseException as exc:  # re-raised below, in the test's thread
                outcome["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the Runner's call hung"
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    with scratch_database("postgresql", tmp_path) as database:
        db = DataFlow(database.url, pool_size=3, pool_max_overflow=0)

        @db.model
        class Item:
            name: str

        async def leave_one_idle_and_ask_for_it():
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(lambda _, context: errors.append(context))
            engine = await db.database.engine()
            pool = engine.sync_engine.pool
            async with engine.connect() as held:  # one connection stays out
                await held.exec_driver_sql("SELECT 1")
                await db.express.create("Item", {"name": "x"})  # and its connection stays idle in the pool
                seen["before"] = (pool.checkedin(), pool.checkedout(), db.database.slots.free)
                db.database._engines[loop].trim()  # what a waiter on another loop asks
                seen["after"] = (pool.checkedin(), pool.checkedout(), db.database.slots.free)
            await asyncio.sleep(0)

        try:
            db.create_tables()  # the home loop's pool keeps one connection
            with asyncio.Runner() as runner:
                in_a_thread(runner, leave_one_idle_and_ask_for_it())
                in_a_thread(runner, asyncio.sleep(0.2))  # the next call on the same loop, from another thread
                gc.collect()
        finally:
            db.close()
    assert seen["before"] == (1, 1, 0), f"(idle, out, free slots) before the trim: {seen['before']}"
    assert seen["after"] == (0, 1, 1), f"(idle, out, free slots) after the trim: {seen['after']}"
    assert not errors, f"the loop reported: {errors[0].get('exception')!r}"
