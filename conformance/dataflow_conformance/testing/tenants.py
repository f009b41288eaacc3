"""The TENANT tests' harness (suite/test_tenant.py): two registered tenants, their seeded people, what each
operation does as acme, and the checks that globex's rows are untouched.

Two tenants hold rows with the same names' numbers and the same ages, so every filter on age matches one
tenant's rows and the other's too: an operation that forgets the tenant shows up in the other tenant's
rows. Their emails (the model's unique field) differ, so that the arrange step needs no per-tenant unique
index (TENANT-007): isolation is judged on an implementation whose unique constraints are global.
"""

from kailash.workflow.builder import WorkflowBuilder

from ..suite.support import blocked_by, define_user, expect_failure, seed, seed_users, utc_now
from .model_cases import define_page

TENANTS = ("acme", "globex")


def email(tenant: str, number: int) -> str:
    """The email of a tenant's seeded person: unique across tenants."""
    return f"u{number}.{tenant}@x.org"


def tenant_db(make_dataflow):
    db = make_dataflow(multi_tenant=True)
    define_user(db)
    for tenant in TENANTS:
        db.tenant_context.register_tenant(tenant, tenant.title())
    return db


def seed_tenants(probe, db) -> dict[str, list[dict]]:
    """Each tenant holds three people aged 0, 1 and 2 (emails unique across tenants), arranged through the
    probe; returns the stored rows by tenant."""
    return {
        tenant: seed_users(
            probe,
            db,
            [{"name": f"{tenant}-{i}", "email": email(tenant, i), "age": i, "tenant_id": tenant} for i in range(3)],
        )
        for tenant in TENANTS
    }


def rows_of(probe, tenant, table="users"):
    return probe.rows(table, where="tenant_id = :tenant", tenant=tenant)


def snapshot_of(probe, tenant, table="users"):
    """The tenant's rows as the probe's snapshot has them (every column, as stored): to compare before and after."""
    return [row for row in probe.snapshot(table) if ("tenant_id", repr(tenant)) in row]


def as_acme(db):
    return db.tenant_context.switch("acme")


def _read(flow, db, created, probe):
    theirs = created["globex"][0]["id"]
    assert flow.node("UserReadNode", {"id": theirs, "raise_on_not_found": False})["found"] is False
    expect_failure(lambda: flow.node("UserReadNode", {"id": theirs}))
    assert flow.node("UserReadNode", {"id": created["acme"][0]["id"]})["name"] == "acme-0"


def _list(flow, db, created, probe):
    records = flow.node("UserListNode", {"filter": {"age": {"$gte": 0}}, "order_by": ["age"]})["records"]
    assert [r["name"] for r in records] == ["acme-0", "acme-1", "acme-2"]


def _count(flow, db, created, probe):
    assert flow.node("UserCountNode", {})["count"] == 3
    assert flow.node("UserCountNode", {"filter": {"age": 1}})["count"] == 1


def _create(flow, db, created, probe):
    flow.node("UserCreateNode", {"name": "acme-new", "email": "new@x.org"})
    assert [r["name"] for r in rows_of(probe, "acme") if r["email"] == "new@x.org"] == ["acme-new"]


def _update(flow, db, created, probe):
    theirs = created["globex"][1]["id"]
    assert flow.node("UserUpdateNode", {"filter": {"id": theirs}, "fields": {"age": 99}})["updated"] is False
    mine = created["acme"][1]["id"]
    assert flow.node("UserUpdateNode", {"filter": {"id": mine}, "fields": {"age": 99}})["age"] == 99


def _delete(flow, db, created, probe):
    assert flow.node("UserDeleteNode", {"id": created["globex"][2]["id"]})["deleted"] is False
    assert flow.node("UserDeleteNode", {"id": created["acme"][2]["id"]})["deleted"] is True


def _upsert(flow, db, created, probe):
    params = {
        "where": {"email": email("acme", 0)},
        "update": {"age": 50},
        "create": {"name": "x"},
        "conflict_on": ["email"],
    }
    result = flow.node("UserUpsertNode", params)
    assert result["created"] is False and result["record"]["name"] == "acme-0"
    params = {
        "where": {"email": email("acme", 7)},
        "update": {},
        "create": {"name": "acme-7"},
        "conflict_on": ["email"],
    }
    assert flow.node("UserUpsertNode", params)["created"] is True


def _bulk_create(flow, db, created, probe):
    data = [{"name": f"acme-b{i}", "email": f"b{i}@x.org"} for i in range(3)]
    assert flow.node("UserBulkCreateNode", {"data": data})["inserted"] == 3


def _bulk_update(flow, db, created, probe):
    result = flow.node("UserBulkUpdateNode", {"filter": {"age": {"$gte": 0}}, "fields": {"nickname": "n"}})
    assert result["updated"] == 3


def _bulk_delete(flow, db, created, probe):
    assert flow.node("UserBulkDeleteNode", {"filter": {"age": {"$gte": 0}}})["deleted"] == 3


def _bulk_upsert(flow, db, created, probe):
    data = [{"name": "acme-0b", "email": email("acme", 0), "age": 40}, {"name": "acme-9", "email": email("acme", 9)}]
    result = flow.node("UserBulkUpsertNode", {"data": data, "conflict_on": ["email"]})
    assert (result["inserted"], result["updated"]) == (1, 1)


CHECKS = {
    "read": _read,
    "list": _list,
    "count": _count,
    "create": _create,
    "update": _update,
    "delete": _delete,
    "upsert": _upsert,
    "bulk_create": _bulk_create,
    "bulk_update": _bulk_update,
    "bulk_delete": _bulk_delete,
    "bulk_upsert": _bulk_upsert,
}


def check_only_acme_changes(make_dataflow, probe, flow, act):
    db = tenant_db(make_dataflow)
    created = seed_tenants(probe, db)
    globex_before = snapshot_of(probe, "globex")
    with as_acme(db):
        act(flow, db, created, probe)
    assert snapshot_of(probe, "globex") == globex_before, "an operation as acme changed globex's rows"
    assert {r["tenant_id"] for r in probe.rows("users")} <= set(TENANTS)


UPSERTS_AS_ACME = {
    "upsert": lambda path: path.node(
        "UserUpsertNode",
        {"where": {"email": "same@x.org"}, "create": {"name": "x"}, "update": {"age": 50}, "conflict_on": ["email"]},
    ),
    "bulk_upsert": lambda path: path.node(
        "UserBulkUpsertNode", {"data": [{"name": "acme-0", "email": "same@x.org", "age": 50}], "conflict_on": ["email"]}
    ),
}


def express_bulk_update(flow, db, created, probe):
    """globex's ids match no record of acme's: the call fails (BULK-013) and writes nothing, acme's rows too."""
    acme_before = rows_of(probe, "acme")
    records = [{"id": r["id"], "nickname": "n"} for r in created["acme"] + created["globex"]]
    expect_failure(lambda: flow.call("bulk_update", "User", records))
    assert rows_of(probe, "acme") == acme_before, "a failed bulk update changed acme's rows"


def express_bulk_delete(flow, db, created, probe):
    flow.call("bulk_delete", "User", [r["id"] for r in created["globex"]])


SUPPLIED = {
    "create-data": ("UserCreateNode", {"name": "m", "email": "m@x.org", "tenant_id": "globex"}),
    "update-fields": ("UserUpdateNode", {"filter": {"id": "SOLO"}, "fields": {"tenant_id": "globex"}}),
    "list-filter": ("UserListNode", {"filter": {"tenant_id": "globex"}}),
    "count-filter": ("UserCountNode", {"filter": {"$or": [{"tenant_id": "globex"}, {"age": 1}]}}),
    "upsert-where": (
        "UserUpsertNode",
        {"where": {"email": email("globex", 0), "tenant_id": "globex"}, "update": {"age": 9}, "create": {"name": "m"}},
    ),
    "upsert-create": (
        "UserUpsertNode",
        {"where": {"email": "m@x.org"}, "create": {"name": "m", "tenant_id": "globex"}, "update": {}},
    ),
    "upsert-update": (
        "UserUpsertNode",
        {"where": {"email": email("acme", 0)}, "create": {"name": "m"}, "update": {"tenant_id": "globex"}},
    ),
    "bulk-create-data": ("UserBulkCreateNode", {"data": [{"name": "m", "email": "m@x.org", "tenant_id": "globex"}]}),
    "bulk-upsert-data": (
        "UserBulkUpsertNode",
        {
            "data": [{"name": "m", "email": email("globex", 0), "age": 9, "tenant_id": "globex"}],
            "conflict_on": ["email"],
        },
    ),
}


# Guard keys in an update filter, and writes by filter, exist only on the nodes (the express API takes ids).
WORKFLOW_ONLY_SUPPLIED = {
    "bulk-delete-filter": ("UserBulkDeleteNode", {"filter": {"tenant_id": "globex"}}),
    "bulk-update-filter": ("UserBulkUpdateNode", {"filter": {"tenant_id": "globex"}, "fields": {"age": 9}}),
    "bulk-update-fields": (
        "UserBulkUpdateNode",
        {"filter": {"email": "solo@x.org"}, "fields": {"tenant_id": "globex"}},
    ),
    "update-filter": ("UserUpdateNode", {"filter": {"id": "GLOBEX0", "tenant_id": "globex"}, "fields": {"age": 9}}),
}


def _with_ids(value, ids):
    if isinstance(value, dict):
        return {k: _with_ids(v, ids) for k, v in value.items()}
    return ids.get(value, value) if isinstance(value, str) else value


def check_supplied_tenant_id(make_dataflow, probe, flow, node_type, params):
    db = tenant_db(make_dataflow)
    created = seed_tenants(probe, db)
    # an email only acme holds: moving this row would collide with nothing
    (solo,) = seed_users(probe, db, [{"name": "acme-solo", "email": "solo@x.org", "age": 7, "tenant_id": "acme"}])
    ids = {"SOLO": solo["id"], "GLOBEX0": created["globex"][0]["id"]}
    globex_before = snapshot_of(probe, "globex")
    with as_acme(db):
        try:
            result = flow.node(node_type, _with_ids(params, ids))
        except Exception as exc:  # refusing is fine; the message must say why
            assert "tenant_id" in str(exc), f"the refusal does not name tenant_id: {exc}"
            result = None
    assert snapshot_of(probe, "globex") == globex_before, (
        f"a tenant_id in {node_type} {params} changed or added globex rows"
    )
    if result is not None and "records" in result:
        assert all(r.get("tenant_id", "acme") == "acme" for r in result["records"]), "globex rows were returned"
        assert result["records"] == [], "a filter on another tenant's id returned rows"
    if result is not None and node_type == "UserCountNode":
        assert result["count"] == 1, "the count included another tenant's rows"


# -- TENANT-004 / TENANT-005: fail closed -----------------------------------------------------

CALLS = {
    "create": {"name": "n", "email": "n@x.org"},
    "read": {"id": 1},
    "update": {"filter": {"id": 1}, "fields": {"age": 5}},
    "delete": {"id": 1},
    "list": {},
    "count": {},
    "upsert": {"where": {"email": "u0@x.org"}, "create": {"name": "n"}, "update": {"age": 5}},
    "bulk_create": {"data": [{"name": "n", "email": "n@x.org"}]},
    "bulk_update": {"filter": {"age": 0}, "fields": {"age": 5}},
    "bulk_delete": {"filter": {"age": 0}},
    "bulk_upsert": {"data": [{"name": "n", "email": "u0@x.org"}], "conflict_on": ["email"]},
}


def check_fails_closed(make_dataflow, probe, flow, call):
    db = tenant_db(make_dataflow)
    seed_tenants(probe, db)
    before = probe.snapshot("users")
    expect_failure(lambda: call(flow), "tenant")
    assert probe.snapshot("users") == before


def create_and_list(tenant, index) -> WorkflowBuilder:
    builder = WorkflowBuilder()
    builder.add_node("UserCreateNode", "create", {"name": f"{tenant}-{index}", "email": f"{index}@x.org"})
    builder.add_node("UserListNode", "list", {})
    return builder


# -- TENANT-002 crossed with soft delete (MODEL-010) and with upserts' key lookups --------------------------


def tenant_pages(make_dataflow, probe):
    """A multi-tenant soft-delete model (Page: unique slug) whose two tenants each hold two live pages titled
    "same" and one deleted, arranged through the probe; returns (db, the stored rows by tenant). A delete of a
    live page is an UPDATE of `deleted_at`, which must carry the tenant as any write does."""
    db = make_dataflow(multi_tenant=True)
    with blocked_by("MODEL-007", "MODEL-009"):  # a unique index, soft delete
        define_page(db)
    for tenant in TENANTS:
        db.tenant_context.register_tenant(tenant, tenant.title())
    deleted_at = utc_now().replace(tzinfo=None)
    created = {}
    for tenant in ("globex", "acme"):  # globex's rows first: the lower ids
        rows = [{"slug": f"{tenant}-{i}", "title": "same", "deleted_at": None, "tenant_id": tenant} for i in (0, 1)]
        rows.append({"slug": f"{tenant}-gone", "title": "same", "deleted_at": deleted_at, "tenant_id": tenant})
        created[tenant] = seed(probe, db, "pages", rows)
    return db, created


def per_tenant_keys(probe, db, table: str, rows_by_tenant: dict) -> None:
    """The same unique key in both tenants, arranged through the probe: an implementation whose unique
    indexes are global cannot hold it (TENANT-007), and a test whose act needs it is blocked, not failed."""
    with blocked_by("TENANT-007"):
        for tenant, row in rows_by_tenant.items():
            seed(probe, db, table, [{**row, "tenant_id": tenant}])


SOFT_DELETE_CASES = {
    # the operations as acme: (what each answers, the answer for acme's pages alone)
    "delete": (
        lambda flow, created: tuple(
            flow.node("PageDeleteNode", {"id": created[tenant][0]["id"]})["deleted"] for tenant in ("globex", "acme")
        ),
        (False, True),  # deleted: globex's page, then acme's
    ),
    "bulk_delete": (lambda flow, created: flow.node("PageBulkDeleteNode", {"filter": {"title": "same"}})["deleted"], 2),
    "bulk_delete_or": (  # a filter of two alternatives under the tenant and deleted_at terms
        lambda flow, created: flow.node(
            "PageBulkDeleteNode", {"filter": {"$or": [{"slug": "acme-0"}, {"slug": "globex-0"}]}}
        )["deleted"],
        1,
    ),
    "bulk_update_or": (
        lambda flow, created: flow.node(
            "PageBulkUpdateNode",
            {"filter": {"$or": [{"slug": "acme-1"}, {"slug": "globex-1"}]}, "fields": {"title": "changed"}},
        )["updated"],
        1,
    ),
    "list_or": (
        lambda flow, created: [
            r["slug"]
            for r in flow.node("PageListNode", {"filter": {"$or": [{"title": "same"}, {"slug": "globex-0"}]}})[
                "records"
            ]
        ],
        ["acme-0", "acme-1"],
    ),
    "count_or": (
        lambda flow, created: flow.node(
            "PageCountNode", {"filter": {"$or": [{"slug": "acme-gone"}, {"slug": "globex-0"}]}}
        )["count"],
        0,
    ),
}
NODE_ONLY_SOFT_DELETE_CASES = {"bulk_delete", "bulk_delete_or", "bulk_update_or"}


def _express_bulk_delete_pages(flow, created):
    """globex's ids, live and deleted, as acme: no record of acme's has them (what it answers is BULK's)."""
    flow.call("bulk_delete", "Page", [r["id"] for r in created["globex"]])


EXPRESS_BULK_DELETE_PAGES = (_express_bulk_delete_pages, None)  # None: only globex's pages are judged


KEYS_OF_ANOTHER_TENANT = {
    # a write as acme naming a key that only globex holds (on the Page model: deleted), and whether it said so
    "create": lambda flow, key: flow.node("PageCreateNode", {"slug": key, "title": "acme's"})["slug"] == key,
    "upsert": lambda flow, key: (
        flow.node(
            "PageUpsertNode", {"where": {"slug": key}, "create": {"title": "acme's"}, "update": {"title": "acme's"}}
        )["created"]
        is True
    ),
    "bulk_upsert": lambda flow, key: (
        flow.node("PageBulkUpsertNode", {"data": [{"slug": key, "title": "acme's"}], "conflict_on": ["slug"]})[
            "inserted"
        ]
        == 1
    ),
}
