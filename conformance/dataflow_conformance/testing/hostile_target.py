"""The target of the SAFE tests at scale (suite/test_hostile.py): a model whose fields take every hostile
value, its rows arranged and read through the probe on one connection held for the whole test (thousands of
checks would otherwise spend most of their time connecting), compared as values (JSON parsed)."""

import contextlib
import sys

from sqlalchemy import text

from .hostile import HostileInput, as_json, same_json, short

FIELDS = ["label", "body", "doc", "seq"]  # what a name must never reach by another spelling
COLUMNS = "SELECT id, label, body, doc, seq FROM targets ORDER BY id"
DEEP_ENOUGH = 20_000  # the recursion limit while the probe parses JSON nested thousands deep
# Kailash's runtime walks node parameters recursively (two frames a level) and fails on documents nested
# about 450 levels deep before any DataFlow code runs: deeper ones go through the express paths only.
WORKFLOW_JSON_DEPTH = 400


def define_target(db):
    @db.model
    class Target:
        label: str
        body: str = ""
        doc: dict = {}
        seq: int = 0
        __dataflow__ = {"indexes": [{"name": "uq_targets_label", "fields": ["label"], "unique": True}]}

    return Target


@contextlib.contextmanager
def deep_parsing():
    """Documents nested thousands deep parse recursively (json, the drivers): only while the probe reads,
    when the implementation under test is idle, so its own limits are the ones users have."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, DEEP_ENOUGH))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


class OneConnection:
    """The probe's view through one connection held for the whole test: the probe's own calls each open
    a connection, and thousands of checks would spend most of their time connecting."""

    def __init__(self, conn):
        self.conn = conn

    def query(self, sql: str, **params) -> list[dict]:
        return [dict(row._mapping) for row in self.conn.execute(text(sql), params)]

    def execute(self, sql: str, **params) -> None:
        self.conn.execute(text(sql), params)


def table(view) -> list[dict]:
    """The rows as comparable values: JSON parsed (as the driver returns it, or from the stored text)."""
    with deep_parsing():
        return [{**row, "doc": as_json(row["doc"])} for row in view.query(COLUMNS)]


def same_rows(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(same_json(x[k], y[k]) if k == "doc" else x[k] == y[k] for k in x)
        for x, y in zip(a, b, strict=True)
    )


def differences(expected: list[dict], found: list[dict]) -> str:
    for x, y in zip(expected, found, strict=False):
        changed = [k for k in x if (not same_json(x[k], y.get(k)) if k == "doc" else x[k] != y.get(k))]
        if changed:
            return f"row {x['id']}: " + ", ".join(f"{k} {short(x[k])} -> {short(y.get(k))}" for k in changed)
    return f"{len(expected)} rows expected, {len(found)} found"


def prepare(make_dataflow, flow, view):
    db = make_dataflow()
    define_target(db)
    db.create_tables()
    for label in ("r0", "u"):
        flow.node("TargetCreateNode", {"label": label, "body": "plain"}, db=db)
    return db, {row["label"]: row["id"] for row in view.query(COLUMNS)}


def reset(view) -> None:
    """Back to the two arranged rows, as arranged (through the probe: independent of the writes tested)."""
    view.execute("DELETE FROM targets WHERE label NOT IN ('r0', 'u')")
    view.execute("UPDATE targets SET body = 'plain', seq = 0 WHERE label IN ('r0', 'u')")


def arrange_rows(view, generator: HostileInput, count: int) -> list[dict]:
    """Rows holding hostile text, inserted through the probe. Text no backend holds as written is left out:
    NUL (PostgreSQL refuses it; SQLite's LIKE ends a value there), lone surrogates, and text longer than
    an indexed field."""
    for hostile in generator.texts(count):
        value = hostile.value
        if not isinstance(value, str) or len(value) > 255 or "\x00" in value:
            continue
        try:
            view.execute(
                "INSERT INTO targets (label, body, doc, seq, created_at, updated_at) "
                "VALUES (:label, :body, '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                label=value,
                body=value[::-1],
            )
        except Exception:  # a value this database refuses (NUL, a lone surrogate, a duplicate): not arranged
            continue
    rows = table(view)
    assert len(rows) > count // 2, f"only {len(rows)} rows could be arranged (test setup problem)"
    return rows
