"""MIGRATE: schema evolution across restarts, checked against the real schema and rows."""

import datetime as dt
import json
import re

import pytest

from ..backends.registry import REGISTRY
from .support import Decimal, Optional, define_everything, expect_failure

# Backends whose databases limit the length of table and column names.
LIMITED = tuple(spec.name for spec in REGISTRY if spec.identifier_limit)

# Signatures of driver errors that reached the caller untranslated.
RAW_DRIVER_ERROR = re.compile(r"sqlite3\.|asyncpg|psycopg|pymysql|aiomysql|OperationalError|ProgrammingError|Undefined")


NAME_INDEX = {"indexes": [{"name": "uq_items_name", "fields": ["name"], "unique": True}]}


def item_model(**fields):
    """A definer of model Item: `name: str` (unique) plus `fields` (name -> annotation or (annotation, default))."""

    def define(db):
        namespace = {"__annotations__": {"name": str}, "__dataflow__": NAME_INDEX}
        for name, spec in fields.items():
            annotation, *default = spec if isinstance(spec, tuple) else (spec,)
            namespace["__annotations__"][name] = annotation
            if default:
                namespace[name] = default[0]
        db.model(type("Item", (), namespace))

    return define


define_item_v1 = item_model()
# Version 1 plus fields that can be added safely: Optional, or with a default.
define_item_v2 = item_model(
    qty=(int, 5),
    active=(bool, True),
    price=(Decimal, Decimal("1.50")),
    attrs=(dict, {"k": [1, 2]}),
    note=(Optional[str], None),
    seen=(Optional[dt.datetime], None),
)


def schema_of(probe, table):
    columns = {name: (str(c["type"]), c["nullable"]) for name, c in probe.columns(table).items()}
    indexes = sorted({(ix["name"], tuple(ix["column_names"]), bool(ix["unique"])) for ix in probe.indexes(table)})
    return columns, indexes


def json_value(value):
    return json.loads(value) if isinstance(value, str) else value


def restart(make_dataflow, define, **options):
    db = make_dataflow(**options)
    define(db)
    return db


@pytest.mark.clause("MIGRATE-001")
def test_added_fields_get_columns_and_defaults(make_dataflow, probe, flow):
    old = restart(make_dataflow, define_item_v1)
    first = flow.node("ItemCreateNode", {"name": "old-1"}, db=old)
    flow.node("ItemCreateNode", {"name": "old-2"}, db=old)
    old.close()

    new = restart(make_dataflow, define_item_v2)
    new.create_tables()
    assert {"qty", "active", "price", "attrs", "note", "seen"} <= set(probe.columns("items"))
    for row in probe.rows("items"):  # the defaults are stored, not filled in when reading
        assert (row["qty"], bool(row["active"]), Decimal(str(row["price"]))) == (5, True, Decimal("1.50"))
        assert json_value(row["attrs"]) == {"k": [1, 2]} and row["note"] is None and row["seen"] is None
    read = flow.node("ItemReadNode", {"id": first["id"]}, db=new)
    assert (read["name"], read["qty"], read["active"], read["price"]) == ("old-1", 5, True, Decimal("1.50"))
    assert (read["attrs"], read["note"], read["seen"]) == ({"k": [1, 2]}, None, None)
    assert flow.node("ItemCountNode", {"filter": {"qty": 5}}, db=new)["count"] == 2
    created = flow.node("ItemCreateNode", {"name": "new", "qty": 7, "note": "n"}, db=new)
    assert (created["qty"], created["note"], created["attrs"]) == (7, "n", {"k": [1, 2]})
    assert [r["name"] for r in probe.rows("items")] == ["old-1", "old-2", "new"]


def define_everything_indexed(db):
    indexes = [
        {"name": "uq_samples_text", "fields": ["text"], "unique": True},
        {"name": "ix_samples_flag_number", "fields": ["flag", "number"]},
    ]
    define_everything(db, indexes)


SAMPLE = {
    "text": "g1",
    "number": 3,
    "ratio": 0.5,
    "flag": True,
    "moment": dt.datetime(2024, 2, 29, 12, 0, 1, 250, tzinfo=dt.timezone.utc),
    "day": dt.date(2024, 2, 29),
    "amount": Decimal("12.3400000001"),
    "doc": {"a": 1},
    "items": [1, "two"],
}


@pytest.mark.clause("MIGRATE-002")
def test_restart_with_unchanged_model_changes_nothing(make_dataflow, probe, flow):
    first = restart(make_dataflow, define_everything_indexed)
    flow.node("SampleCreateNode", SAMPLE, db=first)
    first.close()
    schema, rows = schema_of(probe, "samples"), probe.snapshot("samples")
    for _ in range(2):
        again = restart(make_dataflow, define_everything_indexed)
        again.create_tables()
        assert flow.node("SampleCountNode", {}, db=again)["count"] == 1
        again.close()
        assert schema_of(probe, "samples") == schema, "a restart changed the schema"
        assert probe.snapshot("samples") == rows, "a restart changed the rows"
    assert {"uq_samples_text", "ix_samples_flag_number"} <= {ix[0] for ix in schema[1]}


define_item_note_optional = item_model(note=(Optional[str], None))
define_item_note_required = item_model(note=str)  # was Optional, and rows hold NULL
define_item_new_required = item_model(sku=str)  # new, required, no default


def define_item_name_int(db):
    @db.model
    class Item:
        name: int  # was str


UNSAFE_CHANGES = {
    "type-changed": (define_item_v1, define_item_name_int, "name"),
    "became-required": (define_item_note_optional, define_item_note_required, "note"),
    "new-required-field": (define_item_v1, define_item_new_required, "sku"),
}


@pytest.mark.clause("MIGRATE-003")
@pytest.mark.parametrize("change", sorted(UNSAFE_CHANGES))
def test_unsafe_change_is_refused_and_touches_nothing(make_dataflow, probe, flow, change):
    define_old, define_new, column = UNSAFE_CHANGES[change]
    old = restart(make_dataflow, define_old)
    flow.node("ItemCreateNode", {"name": "kept"}, db=old)
    old.close()
    schema, rows = schema_of(probe, "items"), probe.snapshot("items")

    new = restart(make_dataflow, define_new)

    def start_and_use():
        new.create_tables()
        flow.node("ItemListNode", {}, db=new)

    message = expect_failure(start_and_use, "items", column)
    assert not RAW_DRIVER_ERROR.search(message), f"a raw driver error reached the caller: {message[:300]}"
    assert schema_of(probe, "items") == schema, "the refused change altered the table"
    assert probe.snapshot("items") == rows, "the refused change altered the rows"


@pytest.mark.clause("MIGRATE-004")
def test_without_auto_migrate_missing_table_is_reported(make_dataflow, probe, flow):
    db = restart(make_dataflow, define_item_v1, auto_migrate=False)
    message = expect_failure(lambda: flow.node("ItemCreateNode", {"name": "x"}, db=db), "items")
    assert not RAW_DRIVER_ERROR.search(message), f"a raw driver error reached the caller: {message[:300]}"
    assert "items" not in probe.tables(), "auto_migrate=False created the table"


@pytest.mark.clause("MIGRATE-004")
def test_without_auto_migrate_missing_column_is_reported(make_dataflow, probe, flow):
    old = restart(make_dataflow, define_item_v1)
    flow.node("ItemCreateNode", {"name": "kept"}, db=old)
    old.close()
    db = restart(make_dataflow, define_item_note_optional, auto_migrate=False)
    message = expect_failure(lambda: flow.node("ItemListNode", {}, db=db), "items", "note")
    assert not RAW_DRIVER_ERROR.search(message), f"a raw driver error reached the caller: {message[:300]}"
    assert "note" not in probe.columns("items"), "auto_migrate=False added the column"


def define_reserved(db):
    @db.model
    class Order:
        select: str
        group: int
        user: str
        order: int = 0
        desc: Optional[str] = None
        camelCase: int = 0  # noqa: N815 - mixed case is the point
        Mixed_Name: str = "m"  # noqa: N815
        __tablename__ = "order"
        __dataflow__ = {"indexes": [{"name": "uq_order_select", "fields": ["select"], "unique": True}]}


@pytest.mark.clause("MIGRATE-005")
def test_reserved_words_and_mixed_case(make_dataflow, probe, flow):
    restart(make_dataflow, define_reserved)
    flow.node("OrderCreateNode", {"select": "s1", "group": 1, "user": "u", "camelCase": 4, "Mixed_Name": "M"})
    (created,) = probe.rows("order")  # found in the table: what Create answers is CRUD-001's
    flow.node("OrderBulkCreateNode", {"data": [{"select": f"s{i}", "group": i, "user": "v"} for i in range(2, 6)]})
    flow.node("OrderUpdateNode", {"filter": {"id": created["id"]}, "fields": {"order": 9, "desc": "d"}})
    upserted = flow.node(
        "OrderBulkUpsertNode",
        {
            "data": [{"select": "s2", "group": 20, "user": "w"}, {"select": "s9", "group": 9, "user": "w"}],
            "conflict_on": ["select"],
        },
    )
    assert (upserted["inserted"], upserted["updated"]) == (1, 1)
    listed = flow.node("OrderListNode", {"filter": {"group": {"$gte": 3}, "user": "v"}, "order_by": ["-group"]})
    assert [r["select"] for r in listed["records"]] == ["s5", "s4", "s3"]
    assert flow.node("OrderCountNode", {"filter": {"camelCase": 4, "Mixed_Name": "M"}})["count"] == 1
    assert flow.node("OrderDeleteNode", {"id": created["id"]})["deleted"] is True
    assert {"select", "group", "user", "order", "desc", "camelCase", "Mixed_Name"} <= set(probe.columns("order"))
    rows = {r["select"]: r for r in probe.rows("order")}
    assert sorted(rows) == ["s2", "s3", "s4", "s5", "s9"] and rows["s2"]["group"] == 20


def define_long_names(db, length):
    first, second = "a" * (length - 1) + "1", "a" * (length - 1) + "2"
    namespace = {"__annotations__": {first: str, second: str}}
    return db.model(type("Wide", (), namespace)), first, second


@pytest.mark.clause("MIGRATE-006")
def test_names_at_the_identifier_limit_work(make_dataflow, probe, flow, backend):
    length = backend.features.identifier_limit or 64  # no limit: a long name all the same
    db = make_dataflow()
    _, first, second = define_long_names(db, length)
    created = flow.node("WideCreateNode", {first: "one", second: "two"})
    assert (created[first], created[second]) == ("one", "two")
    assert flow.node("WideCountNode", {"filter": {second: "two"}})["count"] == 1
    (row,) = probe.rows("wides")
    assert (row[first], row[second]) == ("one", "two")


@pytest.mark.clause("MIGRATE-006")
@pytest.mark.backends(*LIMITED)
def test_names_past_the_identifier_limit_are_refused(make_dataflow, probe, flow, backend):
    db = make_dataflow()
    limit = backend.features.identifier_limit

    def define_and_use():
        _, first, second = define_long_names(db, limit + 1)
        flow.node("WideCreateNode", {first: "one", second: "two"})

    expect_failure(define_and_use, "a" * limit)
    assert probe.count("wides") == 0


@pytest.mark.clause("MIGRATE-006")
@pytest.mark.backends(*LIMITED)
@pytest.mark.paths("local")  # the model's declaration is the subject: one path writes through it
@pytest.mark.parametrize("kind", ["table", "index"])
def test_table_and_index_names_past_the_identifier_limit_are_refused(make_dataflow, probe, flow, backend, kind):
    db = make_dataflow()
    name = "t" * (backend.features.identifier_limit + 1)
    namespace = {"__annotations__": {"label": str}}
    if kind == "table":
        namespace["__tablename__"] = name
    else:
        namespace["__dataflow__"] = {"indexes": [{"name": name, "fields": ["label"]}]}

    def define_and_use():
        db.model(type("Longname", (), namespace))
        flow.node("LongnameCreateNode", {"label": "x"})

    expect_failure(define_and_use, name)
    tables = probe.tables()
    assert not any(table.startswith("t" * 20) for table in tables), f"a truncated table was created: {tables}"
    assert "longnames" not in tables or probe.count("longnames") == 0


# The unit each server counts a name's length in (MIGRATE-006: PostgreSQL 63 bytes, MySQL 64 characters).
IDENTIFIER_UNITS = {"postgresql": "bytes", "mysql": "characters"}


@pytest.mark.clause("MIGRATE-006")
@pytest.mark.backends(*LIMITED)
@pytest.mark.paths("local")
def test_the_identifier_limit_counts_in_the_servers_unit(make_dataflow, probe, flow, backend):
    """A name of two-byte letters, within the limit in characters and past it in bytes: PostgreSQL would
    truncate it (refused), MySQL keeps it (it works)."""
    db = make_dataflow()
    limit = backend.features.identifier_limit
    name = "é" * (limit // 2 + 1)
    assert len(name) <= limit < len(name.encode("utf-8"))

    def define_and_use():
        db.model(type("Accent", (), {"__annotations__": {name: str}}))
        return flow.node("AccentCreateNode", {name: "one"})

    if IDENTIFIER_UNITS[backend.name] == "bytes":
        expect_failure(define_and_use, name)
        assert "accents" not in probe.tables() or probe.count("accents") == 0
    else:
        assert define_and_use()[name] == "one"
        assert [row[name] for row in probe.rows("accents")] == ["one"]
