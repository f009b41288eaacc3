"""Models and helpers shared by the conformance tests."""

import contextlib
import datetime as dt
import json
import threading
import time
from decimal import Decimal
from typing import Optional

import pytest

from ..access.protocol import ALL_PATHS, NotOnThisPath, WorkflowFailed, open_path
from ..exceptions import blocked_by, exception_chain
from ..report.tag import FIGURES_PROPERTY

__all__ = [
    "Decimal",
    "Optional",
    "WorkflowFailed",
    "blocked_by",
    "define_everything",
    "define_user",
    "expect_failure",
    "seed",
    "seed_users",
]


def define_user(db):
    """The User model most tests share (declaring it relies on the model clauses it uses)."""
    with blocked_by("MODEL-005", "MODEL-006", "MODEL-007"):
        return _define_user(db)


def _define_user(db):
    @db.model
    class User:
        name: str
        email: str
        age: int = 0
        active: bool = True
        score: float | None = None
        nickname: str | None = None
        # The index name leaves out the field's: a unique violation's error must name the field itself (ERR-007).
        __dataflow__ = {"indexes": [{"name": "uq_users_contact", "fields": ["email"], "unique": True}]}

    return User


# The User model's defaults, for rows arranged through the probe (the implementation applies them itself).
USER_DEFAULTS = {"age": 0, "active": True, "score": None, "nickname": None}


def seed_users(probe, db, rows: list[dict]) -> list[dict]:
    """User rows arranged through the probe (see seed), the model's defaults filled in."""
    return seed(probe, db, "users", [{**USER_DEFAULTS, **row} for row in rows])


def define_everything(db, indexes=None):
    """A model with one field of every documented type (and the given `__dataflow__` indexes)."""

    class Sample:
        text: str
        number: int
        ratio: float
        flag: bool
        moment: dt.datetime
        day: dt.date
        amount: Decimal
        doc: dict
        items: list
        maybe: str | None = None

    if indexes:
        Sample.__dataflow__ = {"indexes": indexes}
    return db.model(Sample)


@contextlib.contextmanager
def every_path(db):
    """One access path of each kind (LocalRuntime, AsyncLocalRuntime, express, express_sync), bound to `db`."""
    paths = [open_path(name) for name in ALL_PATHS]
    for path in paths:
        path.bind(db)
    try:
        yield paths
    finally:
        for path in paths:
            path.close()


def report_figures(request, **figures) -> None:
    """Attach measured figures (JSON values) to this test's entry in the conformance report."""
    request.node.user_properties.append((FIGURES_PROPERTY, json.dumps(figures, default=str)))


def seed(probe, db, table: str, rows: list[dict]) -> list[dict]:
    """Arrange `rows` in the implementation's table without its own write path: the tables are created
    (`create_tables()`, CONF-005) and the rows inserted through the probe into the documented storage
    schema (MODEL-011), one after another; returns them as stored, with their ids, in order. A failure
    here blocks the test."""
    with blocked_by("CONF-005", "MODEL-011"):
        db.create_tables()
        ids = probe.insert(table, rows)
        stored = {row["id"]: row for row in probe.rows(table)}
        return [stored[record_id] for record_id in ids]


def expect_failure(call, *fragments: str) -> str:
    """`call()` must fail; its error message must contain every fragment (case-insensitive)."""
    with pytest.raises(Exception) as info:
        call()
    message = _full_message(info.value)
    missing = [f for f in fragments if f.lower() not in message.lower()]
    assert not missing, f"error does not name {missing}: {message[:500]}"
    return message


def _full_message(exc: BaseException) -> str:
    return " <- ".join(f"{type(e).__name__}: {e}" for e in exception_chain(exc))


def stored_json(value):
    """A JSON column's value as the probe reads it: the driver's dict or list, or the document its text holds."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | str) -> dt.datetime:
    """The instant a timestamp stands for, in UTC: naive datetimes are read as UTC, and an ISO 8601 string
    (a driver's text, or an implementation's representation) is the instant it spells. Tests of behaviour
    (a timestamp set, advanced or kept) compare instants; TYPE alone judges the representation."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise AssertionError(f"{value!r} is not a timestamp") from None
    if not isinstance(value, dt.datetime):
        raise AssertionError(f"{value!r} ({type(value).__name__}) is not a timestamp")
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def with_deadline(call, timeout: float):
    """`call()` in a thread, so that a call that hangs fails the test instead of stalling the run.
    Returns (finished, its result or exception, seconds it took)."""
    outcome = {}

    def target():
        started = time.monotonic()
        try:
            outcome["value"] = call()
        except (Exception, NotOnThisPath) as exc:
            outcome["value"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if isinstance(outcome.get("value"), NotOnThisPath):  # the test's own defect: not the implementation's outcome
        raise outcome["value"]
    return not thread.is_alive(), outcome.get("value"), outcome.get("seconds")
