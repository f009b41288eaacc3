"""MODEL: declaration, ids, timestamps, defaults, indexes, soft delete."""

import datetime as dt

import pytest

from ..access.protocol import EXPRESS_PATHS, WORKFLOW_PATHS
from ..exceptions import exception_chain
from ..testing.bulkdata import creating
from ..testing.model_cases import (
    EXPRESS_UPDATES,
    GONE_READS,
    NODE_GONE_READS,
    NODE_UPDATES,
    OLD_STAMP,
    REFUSED,
    UPDATES,
    as_datetime,
    define_page,
)
from .support import Optional, as_utc, define_user, expect_failure, seed, seed_users, stored_json, utc_now


@pytest.mark.clause("MODEL-001")
def test_table_names(make_dataflow, probe, flow):
    db = make_dataflow()

    @db.model
    class OrderItem:
        sku: str

    @db.model
    class Category:
        title: str

    @db.model
    class Box:
        label: str

    @db.model
    class Ledger:
        entry: str
        __tablename__ = "custom_ledger"

    flow.node("OrderItemCreateNode", {"sku": "a"})
    flow.node("CategoryCreateNode", {"title": "b"})
    flow.node("BoxCreateNode", {"label": "c"})
    flow.node("LedgerCreateNode", {"entry": "d"})
    assert {"order_items", "categories", "boxes", "custom_ledger"} <= probe.tables()
    assert [r["sku"] for r in probe.rows("order_items")] == ["a"]
    assert [r["entry"] for r in probe.rows("custom_ledger")] == ["d"]


# Declarations no table can hold faithfully, and the name each refusal must carry (MODEL-012): the class's
# annotations, then its other attributes.
REFUSED_DECLARATIONS = {
    "union": ({"x": int | str}, {}, "x"),
    "optional-union": ({"x": int | str | None}, {}, "x"),
    "unsupported-type": ({"x": complex}, {}, "x"),
    "float-id": ({"id": float, "x": str}, {}, "id"),
    "nullable-id": ({"id": Optional[int], "x": str}, {}, "id"),
    "managed-created_at": ({"created_at": str}, {}, "created_at"),
    "managed-deleted_at": ({"deleted_at": str}, {}, "deleted_at"),
    "default-of-another-type": ({"x": int}, {"x": "three"}, "x"),
    "table-name": ({"x": str}, {"__tablename__": "bad table; --"}, "bad table"),
    "unknown-option": ({"x": str}, {"__dataflow__": {"soft_delet": True}}, "soft_delet"),
    "indexes-not-a-list": ({"x": str}, {"__dataflow__": {"indexes": {"fields": ["x"]}}}, "indexes"),
    "index-without-fields": ({"x": str}, {"__dataflow__": {"indexes": [{"name": "ix_nothing"}]}}, "index"),
    "index-of-unknown-field": ({"x": str}, {"__dataflow__": {"indexes": [{"fields": ["nope"]}]}}, "nope"),
    "index-name": ({"x": str}, {"__dataflow__": {"indexes": [{"name": "ix x;", "fields": ["x"]}]}}, "ix x;"),
}


@pytest.mark.clause("MODEL-012")
def test_declarations_no_table_can_hold_faithfully_are_refused(make_dataflow):
    """Each is refused by the time its table is made (at the declaration, or by create_tables()), naming what
    is wrong: never stored as something else (an int for `int | str`, a column without the option misspelled)."""
    wrong = {}
    for number, (case, (annotations, attributes, named)) in enumerate(sorted(REFUSED_DECLARATIONS.items())):
        db = make_dataflow()
        namespace = {"__annotations__": dict(annotations), **attributes}
        try:
            db.model(type(f"Declared{number}", (), namespace))
            db.create_tables()
        except Exception as error:
            message = " <- ".join(f"{type(e).__name__}: {e}" for e in exception_chain(error))
            if named.lower() not in message.lower():
                wrong[case] = f"refused without naming {named!r}: {message[:200]}"
        else:
            wrong[case] = "accepted"
    assert not wrong, f"declarations accepted or refused without naming the problem: {wrong}"


@pytest.mark.clause("MODEL-011")
def test_storage_schema_columns(make_dataflow, probe):
    db = make_dataflow()
    define_user(db)
    define_page(db)
    db.create_tables()
    assert {"id", "name", "email", "age", "active", "score", "nickname", "created_at", "updated_at"} <= set(
        probe.columns("users")
    )
    assert {"id", "slug", "title", "created_at", "updated_at", "deleted_at"} <= set(probe.columns("pages"))


@pytest.mark.clause("MODEL-011")
def test_storage_schema_has_tenant_id_on_multi_tenant_models(make_dataflow, probe):
    db = make_dataflow(multi_tenant=True)
    define_user(db)
    db.create_tables()
    assert "tenant_id" in probe.columns("users")


@pytest.mark.clause("MODEL-011")
def test_rows_written_from_outside_are_records(make_dataflow, probe, flow):
    define_user(make_dataflow())
    flow.db.create_tables()
    (row_id,) = probe.insert("users", [{"name": "out", "email": "out@x.org", "age": 4, "active": False}])
    read = flow.node("UserReadNode", {"id": row_id})
    assert (read["name"], read["email"], read["age"], read["active"]) == ("out", "out@x.org", 4, False)
    assert as_utc(read["created_at"]) <= utc_now()


@pytest.mark.clause("MODEL-011")
def test_a_soft_deleted_row_has_its_deletion_time(make_dataflow, probe, flow):
    define_page(make_dataflow())
    (page,) = seed(probe, flow.db, "pages", [{"slug": "s", "title": "t", "deleted_at": None}])
    started = utc_now().replace(microsecond=0)
    assert flow.node("PageDeleteNode", {"id": page["id"]})["deleted"] is True
    (row,) = probe.rows("pages")
    assert row["deleted_at"] is not None and as_utc(as_datetime(row["deleted_at"])) >= started


@pytest.mark.clause("MODEL-002")
def test_auto_increment_integer_id(make_dataflow, probe, flow):
    define_user(make_dataflow())
    records = [flow.node("UserCreateNode", {"name": f"n{i}", "email": f"e{i}@x.org"}) for i in range(3)]
    ids = [r["id"] for r in records]
    assert all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    assert len(set(ids)) == 3
    assert sorted(ids) == [row["id"] for row in probe.rows("users")]


@pytest.mark.clause("MODEL-003")
def test_string_primary_key(make_dataflow, probe, flow):
    db = make_dataflow()

    @db.model
    class Token:
        id: str
        owner: str

    created = flow.node("TokenCreateNode", {"id": "tok-Ä-001", "owner": "ann"})
    assert created["id"] == "tok-Ä-001"
    assert flow.node("TokenReadNode", {"id": "tok-Ä-001"})["owner"] == "ann"
    assert [row["id"] for row in probe.rows("tokens")] == ["tok-Ä-001"]


@pytest.mark.clause("MODEL-004")
def test_timestamps(make_dataflow, probe, flow):
    """Set on create within the call's window, kept and advanced by an update: read from the table (the
    returned record's shape is CRUD-001's)."""
    define_user(make_dataflow())
    before = utc_now().replace(microsecond=0)
    flow.node("UserCreateNode", {"name": "t", "email": "t@x.org"})
    after = utc_now()
    (created,) = probe.rows("users")
    created_at, updated_at = as_utc(created["created_at"]), as_utc(created["updated_at"])
    assert before <= created_at <= after and before <= updated_at <= after, "create did not stamp its time"
    flow.node("UserUpdateNode", {"filter": {"id": created["id"]}, "fields": {"age": 5}})
    (read,) = probe.rows("users")
    assert as_utc(read["created_at"]) == created_at, "update changed created_at"
    assert as_utc(read["updated_at"]) > updated_at, "update did not advance updated_at"


@pytest.mark.clause("MODEL-004", "QUERY-002", "QUERY-008")
def test_lists_filter_and_sort_by_the_timestamps(make_dataflow, probe, flow):
    """The timestamps are datetime fields of every record: compared and sorted as instants like any other
    (their values written from outside, in another order than the ids')."""
    define_user(make_dataflow())
    seed_users(probe, flow.db, [{"name": name, "email": f"{name}@x.org"} for name in ("a", "b", "c")])
    for name, stamp in [("a", "2003-01-01 00:00:00"), ("b", "2001-06-01 12:00:00"), ("c", "2002-12-31 23:59:59")]:
        probe.execute(f"UPDATE users SET created_at = '{stamp}', updated_at = '{stamp}' WHERE name = '{name}'")
    pivot = dt.datetime(2002, 1, 1, tzinfo=dt.timezone.utc)

    def names(**params):
        return [r["name"] for r in flow.node("UserListNode", {"limit": 100, **params})["records"]]

    assert sorted(names(filter={"created_at": {"$gt": pivot}})) == ["a", "c"]
    assert sorted(names(filter={"updated_at": {"$lte": pivot}})) == ["b"]
    assert names(order_by=["-created_at"]) == ["a", "c", "b"]
    assert names(order_by=["updated_at"]) == ["b", "c", "a"]


@pytest.mark.clause("MODEL-004", "QUERY-002")
def test_the_stored_timestamps_select_their_records_whichever_write_stored_them(make_dataflow, probe, flow):
    """A write and a lookup that disagree: a bulk write that stores its timestamps in another form than Create
    does (the driver's own text for a datetime, another zone) holds the same instants, yet a filter on them no
    longer finds its records. Each instant the table holds, as a filter value, selects exactly the records
    stamped with it (equal, and at or before it). A model of one text field: a write path may treat values
    that need no conversion apart, the timestamps with them."""
    db = make_dataflow()

    @db.model
    class Note:
        label: str

    flow.node("NoteCreateNode", {"label": "single"})
    flow.node("NoteBulkCreateNode", creating([{"label": "first"}, {"label": "second"}], 1000, flow))
    stored = {row["id"]: as_utc(row["created_at"]) for row in probe.rows("notes")}
    assert len(stored) == 3, f"3 records written, {len(stored)} stored"

    def ids(condition):
        listed = flow.node("NoteListNode", {"filter": {"created_at": condition}, "limit": 100})["records"]
        return sorted(record["id"] for record in listed)

    for instant in sorted(set(stored.values())):
        assert ids(instant) == sorted(i for i, at in stored.items() if at == instant), f"created_at = {instant}"
        assert ids({"$lte": instant}) == sorted(i for i, at in stored.items() if at <= instant), f"<= {instant}"


def check_updated_at(make_dataflow, probe, flow, write):
    define_user(make_dataflow())
    ids = [r["id"] for r in seed_users(probe, flow.db, [{"name": f"s{i}", "email": f"s{i}@x.org"} for i in range(2)])]
    # Old timestamps written from outside, so "advanced" needs no sleep and cannot tie.
    probe.execute(f"UPDATE users SET created_at = '{OLD_STAMP}', updated_at = '{OLD_STAMP}'")
    before = {r["id"]: r for r in probe.rows("users")}
    started = utc_now().replace(microsecond=0)
    write(flow, ids)
    after = {r["id"]: r for r in probe.rows("users")}
    assert after[ids[0]]["age"] == 5, "the write did not update the record"
    assert after[ids[0]]["created_at"] == before[ids[0]]["created_at"], "the write changed created_at"
    assert as_utc(after[ids[0]]["updated_at"]) >= started, "the write did not advance updated_at"
    assert after[ids[1]] == before[ids[1]], "the write touched a record it did not update"


@pytest.mark.clause("MODEL-004")
@pytest.mark.parametrize("write", sorted(UPDATES))
def test_every_update_advances_updated_at_only(make_dataflow, probe, flow, write):
    check_updated_at(make_dataflow, probe, flow, UPDATES[write])


@pytest.mark.clause("MODEL-004")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("write", sorted(NODE_UPDATES))
def test_every_node_update_by_filter_advances_updated_at_only(make_dataflow, probe, flow, write):
    check_updated_at(make_dataflow, probe, flow, NODE_UPDATES[write])


@pytest.mark.clause("MODEL-004")
@pytest.mark.paths(*EXPRESS_PATHS)
@pytest.mark.parametrize("write", sorted(EXPRESS_UPDATES))
def test_every_express_update_by_key_advances_updated_at_only(make_dataflow, probe, flow, write):
    check_updated_at(make_dataflow, probe, flow, EXPRESS_UPDATES[write])


@pytest.mark.clause("MODEL-005")
def test_defaults_applied_and_not_shared(make_dataflow, probe, flow):
    db = make_dataflow()

    @db.model
    class Profile:
        name: str
        level: int = 3
        active: bool = True
        tags: list = []
        settings: dict = {"theme": "dark"}

    def stored(name):  # the row as the table holds it: the defaults applied are the subject, not the answer
        (row,) = probe.rows("profiles", where="name = :name", name=name)
        return row["id"], row["level"], bool(row["active"]), stored_json(row["tags"]), stored_json(row["settings"])

    flow.node("ProfileCreateNode", {"name": "a"})
    first_id, *defaults = stored("a")
    assert defaults == [3, True, [], {"theme": "dark"}], "a class default was not applied"
    flow.node(
        "ProfileUpdateNode", {"filter": {"id": first_id}, "fields": {"tags": ["x"], "settings": {"theme": "light"}}}
    )
    flow.node("ProfileCreateNode", {"name": "b"})
    assert stored("b")[3:] == ([], {"theme": "dark"}), "a mutable default was shared"
    assert Profile.__dict__.get("tags", []) == [], "the class default itself was mutated"


@pytest.mark.clause("MODEL-006")
def test_optional_and_required_fields(make_dataflow, probe, flow):
    db = make_dataflow()

    @db.model
    class Note:
        title: str
        body: Optional[str] = None
        rating: Optional[int] = None

    flow.node("NoteCreateNode", {"title": "t", "body": None})
    (stored,) = probe.rows("notes")
    read = flow.node("NoteReadNode", {"id": stored["id"]})
    assert read["body"] is None and read["rating"] is None
    assert probe.rows("notes")[0]["body"] is None
    expect_failure(lambda: flow.node("NoteCreateNode", {"body": "no title"}), "title")
    assert probe.count("notes") == 1


@pytest.mark.clause("MODEL-006")
def test_optional_without_a_default_and_a_default_of_none_accept_none(make_dataflow, probe, flow):
    """`Optional[T]` with no default accepts None; a class default of None (api.md's `meta: dict = None`) makes
    a field optional whatever its annotation."""
    db = make_dataflow()

    @db.model
    class Memo:
        title: str
        rating: Optional[int]
        meta: dict = None
        note: str = None

    flow.node("MemoCreateNode", {"title": "a", "rating": None})
    flow.node("MemoCreateNode", {"title": "b", "rating": 4, "meta": {"k": 1}, "note": "n"})
    stored = [(r["title"], r["rating"], stored_json(r["meta"]), r["note"]) for r in probe.rows("memos")]
    assert stored == [("a", None, None, None), ("b", 4, {"k": 1}, "n")]
    first = probe.rows("memos")[0]["id"]
    read = flow.node("MemoReadNode", {"id": first})
    assert (read["rating"], read["meta"], read["note"]) == (None, None, None)


@pytest.mark.clause("MODEL-007")
def test_unique_index(make_dataflow, probe, flow):
    define_user(make_dataflow())
    flow.node("UserCreateNode", {"name": "a", "email": "same@x.org"})
    expect_failure(lambda: flow.node("UserCreateNode", {"name": "b", "email": "same@x.org"}))
    assert [r["name"] for r in probe.rows("users")] == ["a"]
    unique = [ix for ix in probe.indexes("users") if ix["unique"] and ix["column_names"] == ["email"]]
    assert any(ix["name"] == "uq_users_contact" for ix in unique), probe.indexes("users")


@pytest.mark.clause("MODEL-008")
def test_plain_index(make_dataflow, probe, flow):
    db = make_dataflow()

    @db.model
    class Event:
        kind: str
        at: int
        __dataflow__ = {"indexes": [{"name": "ix_events_kind_at", "fields": ["kind", "at"]}]}

    flow.node("EventCreateNode", {"kind": "k", "at": 1})
    flow.node("EventCreateNode", {"kind": "k", "at": 1})
    found = {ix["name"]: ix for ix in probe.indexes("events")}
    assert "ix_events_kind_at" in found
    assert found["ix_events_kind_at"]["column_names"] == ["kind", "at"]
    assert not found["ix_events_kind_at"]["unique"]
    assert probe.count("events") == 2


@pytest.mark.clause("MODEL-009")
def test_soft_delete(make_dataflow, probe, flow):
    db = make_dataflow()

    @db.model
    class Doc:
        title: str
        __dataflow__ = {"soft_delete": True}

    kept, gone = seed(probe, db, "docs", [{"title": "kept"}, {"title": "gone"}])
    assert flow.node("DocDeleteNode", {"id": gone["id"]})["deleted"] is True
    assert flow.node("DocReadNode", {"id": gone["id"], "raise_on_not_found": False})["found"] is False
    assert [r["title"] for r in flow.node("DocListNode", {})["records"]] == ["kept"]
    assert flow.node("DocCountNode", {})["count"] == 1
    assert sorted(r["title"] for r in probe.rows("docs")) == ["gone", "kept"], "soft delete removed the row"


def soft_deleted_page(make_dataflow, flow, probe):
    """A kept page and a soft-deleted one (its deleted_at set, MODEL-011), arranged through the probe."""
    define_page(make_dataflow())
    deleted_at = utc_now().replace(tzinfo=None)
    rows = [
        {"slug": "k", "title": "kept", "deleted_at": None},
        {"slug": "g", "title": "gone", "deleted_at": deleted_at},
    ]
    kept, gone = seed(probe, flow.db, "pages", rows)
    return kept, gone, probe.snapshot("pages")


@pytest.mark.clause("MODEL-010")
@pytest.mark.parametrize("operation", sorted(GONE_READS))
def test_soft_deleted_record_is_gone_for_every_operation(make_dataflow, probe, flow, operation):
    kept, gone, before = soft_deleted_page(make_dataflow, flow, probe)
    assert GONE_READS[operation](flow, kept, gone), f"{operation} saw the soft-deleted record"
    assert probe.snapshot("pages") == before, f"{operation} changed the table"


@pytest.mark.clause("MODEL-010")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("operation", sorted(NODE_GONE_READS))
def test_soft_deleted_record_is_gone_for_every_write_by_filter(make_dataflow, probe, flow, operation):
    kept, gone, before = soft_deleted_page(make_dataflow, flow, probe)
    assert NODE_GONE_READS[operation](flow, kept, gone), f"{operation} matched the soft-deleted record"
    assert probe.snapshot("pages") == before, f"{operation} changed the table"


@pytest.mark.clause("MODEL-010")
@pytest.mark.parametrize("operation", sorted(REFUSED))
def test_writes_naming_a_soft_deleted_key_are_refused(make_dataflow, probe, flow, operation):
    kept, gone, before = soft_deleted_page(make_dataflow, flow, probe)
    node_type, params = REFUSED[operation]
    expect_failure(lambda: flow.node(node_type, params))
    assert probe.snapshot("pages") == before, f"{operation} naming a deleted record's key changed the table"
