"""The cases of the MODEL tests (suite/test_model.py) that run on every access path: the writes that must
advance updated_at (and only it), the operations that must not see a soft-deleted record (each checks the
answer it got), and the writes that name a soft-deleted record's key."""

import datetime as dt


def define_page(db):
    """A soft-delete model with a unique key (the MODEL-010 tests' and the soft-delete TENANT tests')."""

    @db.model
    class Page:
        slug: str
        title: str
        __dataflow__ = {"soft_delete": True, "indexes": [{"name": "uq_pages_slug", "fields": ["slug"], "unique": True}]}


OLD_STAMP = "2001-02-03 04:05:06"
UPDATES = {  # write(path, ids of the two seeded records): updates the first one's age to 5
    "update": lambda path, ids: path.node("UserUpdateNode", {"filter": {"id": ids[0]}, "fields": {"age": 5}}),
    "upsert": lambda path, ids: path.node(
        "UserUpsertNode", {"where": {"email": "s0@x.org"}, "create": {"name": "x"}, "update": {"age": 5}}
    ),
    "bulk_upsert": lambda path, ids: path.node(
        "UserBulkUpsertNode", {"data": [{"name": "s0", "email": "s0@x.org", "age": 5}], "conflict_on": ["email"]}
    ),
}
NODE_UPDATES = {  # updates by filter: a node feature
    "bulk_update": lambda path, ids: path.node(
        "UserBulkUpdateNode", {"filter": {"id": {"$in": [ids[0]]}}, "fields": {"age": 5}}
    ),
}
EXPRESS_UPDATES = {  # the express API's bulk update by key
    "bulk_update": lambda path, ids: path.call("bulk_update", "User", [{"id": ids[0], "age": 5}]),
}


# Each: (path, the kept record, the soft-deleted one) -> asserts what the operation answered.
GONE_READS = {
    "delete": lambda path, kept, gone: path.node("PageDeleteNode", {"id": gone["id"]})["deleted"] is False,
    "update": lambda path, kept, gone: (
        path.node("PageUpdateNode", {"filter": {"id": gone["id"]}, "fields": {"title": "x"}})["updated"] is False
    ),
    "read": lambda path, kept, gone: (
        path.node("PageReadNode", {"id": gone["id"], "raise_on_not_found": False})["found"] is False
    ),
    "list": lambda path, kept, gone: path.node("PageListNode", {"filter": {"title": "gone"}})["records"] == [],
    "count": lambda path, kept, gone: path.node("PageCountNode", {"filter": {"slug": "g"}})["count"] == 0,
}
NODE_GONE_READS = {  # writes by filter: node features
    "bulk_update": lambda path, kept, gone: (
        path.node("PageBulkUpdateNode", {"filter": {"slug": "g"}, "fields": {"title": "x"}})["updated"] == 0
    ),
    "bulk_delete": lambda path, kept, gone: path.node("PageBulkDeleteNode", {"filter": {"slug": "g"}})["deleted"] == 0,
}
# Writes naming the deleted record's key: refused (neither revived nor duplicated).
REFUSED = {
    "upsert": ("PageUpsertNode", {"where": {"slug": "g"}, "create": {"title": "again"}, "update": {"title": "again"}}),
    "create": ("PageCreateNode", {"slug": "g", "title": "again"}),
    "bulk_upsert": (
        "PageBulkUpsertNode",
        {"data": [{"slug": "n", "title": "new"}, {"slug": "g", "title": "again"}], "conflict_on": ["slug"]},
    ),
}


def as_datetime(value):
    """A timestamp as the driver returns it (SQLite: text)."""
    return value if not isinstance(value, str) else dt.datetime.fromisoformat(value)
