"""TENANT: multi-tenant isolation for every node and access path, checked on the raw table.

Two tenants hold rows with the same names' numbers and the same ages, so every filter on age matches one
tenant's rows and the other's too: an operation that forgets the tenant shows up in the other tenant's
rows, which the tests read through an independent connection. Their emails (the model's unique field)
differ, so that the arrange step needs no per-tenant unique index (TENANT-007): isolation is judged on an
implementation whose unique constraints are global. Only the tests where acme writes a key another tenant
holds (an upsert's lookup, a key of a deleted record) need TENANT-007: they first arrange one key in both
tenants through the probe, so that without per-tenant keys they are blocked, not failed.
"""

import pytest

from ..access.express import NODE_ONLY_OPERATIONS
from ..access.protocol import EXPRESS_PATHS, WORKFLOW_PATHS
from ..contract.operations import BY_NAME, OPERATIONS
from ..testing.tenants import (
    CALLS,
    CHECKS,
    EXPRESS_BULK_DELETE_PAGES,
    KEYS_OF_ANOTHER_TENANT,
    NODE_ONLY_SOFT_DELETE_CASES,
    SOFT_DELETE_CASES,
    SUPPLIED,
    TENANTS,
    UPSERTS_AS_ACME,
    WORKFLOW_ONLY_SUPPLIED,
    as_acme,
    check_fails_closed,
    check_only_acme_changes,
    check_supplied_tenant_id,
    create_and_list,
    email,
    express_bulk_delete,
    express_bulk_update,
    per_tenant_keys,
    rows_of,
    seed_tenants,
    snapshot_of,
    tenant_db,
    tenant_pages,
)
from .support import USER_DEFAULTS, blocked_by, define_user, expect_failure, seed_users

# -- TENANT-001 / TENANT-007 -----------------------------------------------------------------


@pytest.mark.clause("TENANT-001")
def test_rows_record_their_tenant(make_dataflow, probe, flow):
    db = tenant_db(make_dataflow)
    created = {}
    for tenant in TENANTS:
        with db.tenant_context.switch(tenant):
            created[tenant] = flow.node("UserCreateNode", {"name": f"{tenant}-0", "email": f"{tenant}@x.org"})
    for tenant in TENANTS:
        assert [r["name"] for r in rows_of(probe, tenant)] == [f"{tenant}-0"], f"{tenant}'s row is not its own"


@pytest.mark.clause("TENANT-007")
def test_the_same_unique_value_in_two_tenants(make_dataflow, probe, flow):
    db = tenant_db(make_dataflow)
    for tenant in TENANTS:
        with db.tenant_context.switch(tenant):
            flow.node("UserCreateNode", {"name": f"{tenant}-0", "email": "same@x.org"})
    assert sorted(r["tenant_id"] for r in probe.rows("users")) == sorted(TENANTS)


@pytest.mark.clause("TENANT-007")
def test_unique_indexes_hold_within_a_tenant(make_dataflow, probe, flow):
    db = tenant_db(make_dataflow)
    seed_tenants(probe, db)
    with as_acme(db):  # the same email twice in one tenant is refused
        expect_failure(lambda: flow.node("UserCreateNode", {"name": "dup", "email": email("acme", 0)}))
    assert probe.count("users") == 6


# -- TENANT-002: every node sees and changes only the bound tenant's rows ----------------------


@pytest.mark.clause("TENANT-002")
@pytest.mark.parametrize("operation", [o.name for o in OPERATIONS if o.name not in NODE_ONLY_OPERATIONS])
def test_every_operation_touches_only_the_bound_tenant(make_dataflow, probe, flow, operation):
    check_only_acme_changes(make_dataflow, probe, flow, CHECKS[operation])


@pytest.mark.clause("TENANT-002")
@pytest.mark.paths(*WORKFLOW_PATHS)  # updates and deletes by filter are node features
@pytest.mark.parametrize("operation", sorted(NODE_ONLY_OPERATIONS))
def test_every_node_by_filter_touches_only_the_bound_tenant(make_dataflow, probe, flow, operation):
    check_only_acme_changes(make_dataflow, probe, flow, CHECKS[operation])


@pytest.mark.clause("TENANT-002")
@pytest.mark.parametrize("operation", sorted(UPSERTS_AS_ACME))
def test_upserts_match_the_bound_tenants_record_when_another_tenants_comes_first(make_dataflow, probe, flow, operation):
    """An upsert that looks its key up without the tenant finds globex's record (the lower id) and then
    writes nothing, or writes it: either way a lookup and a write that disagree. Both tenants hold the key,
    which needs per-tenant unique indexes (TENANT-007)."""
    db = tenant_db(make_dataflow)
    same_key = {t: {**USER_DEFAULTS, "name": f"{t}-0", "email": "same@x.org"} for t in ("globex", "acme")}
    per_tenant_keys(probe, db, "users", same_key)  # globex's rows first
    with as_acme(db):
        UPSERTS_AS_ACME[operation](flow)
    ages = {r["tenant_id"]: r["age"] for r in probe.rows("users")}
    assert ages == {"acme": 50, "globex": 0}, f"{operation} as acme: ages by tenant {ages}"


@pytest.mark.clause("TENANT-002")
@pytest.mark.paths(*EXPRESS_PATHS)
@pytest.mark.parametrize("act", [express_bulk_update, express_bulk_delete], ids=["bulk_update", "bulk_delete"])
def test_express_bulk_writes_by_key_touch_only_the_bound_tenant(make_dataflow, probe, flow, act):
    check_only_acme_changes(make_dataflow, probe, flow, act)


@pytest.mark.clause("TENANT-002")
@pytest.mark.parametrize("operation", sorted(set(SOFT_DELETE_CASES) - NODE_ONLY_SOFT_DELETE_CASES))
def test_soft_delete_models_touch_only_the_bound_tenant(make_dataflow, probe, flow, operation):
    """On a soft-delete model a delete is an UPDATE of `deleted_at`, and every read and write carries a second
    term (not deleted) beside the tenant's: neither may lose the tenant, nor let an `$or` escape it."""
    _check_pages_as_acme(make_dataflow, probe, flow, SOFT_DELETE_CASES[operation], operation)


@pytest.mark.clause("TENANT-002")
@pytest.mark.paths(*WORKFLOW_PATHS)  # writes by filter are node features
@pytest.mark.parametrize("operation", sorted(NODE_ONLY_SOFT_DELETE_CASES))
def test_soft_delete_models_touch_only_the_bound_tenant_by_filter(make_dataflow, probe, flow, operation):
    _check_pages_as_acme(make_dataflow, probe, flow, SOFT_DELETE_CASES[operation], operation)


@pytest.mark.clause("TENANT-002")
@pytest.mark.paths(*EXPRESS_PATHS)
def test_soft_delete_models_express_bulk_delete_touches_only_the_bound_tenant(make_dataflow, probe, flow):
    _check_pages_as_acme(make_dataflow, probe, flow, EXPRESS_BULK_DELETE_PAGES, "bulk_delete")


def _check_pages_as_acme(make_dataflow, probe, flow, case, operation):
    act, expected = case
    db, created = tenant_pages(make_dataflow, probe)
    globex_before = snapshot_of(probe, "globex", "pages")
    with as_acme(db):
        with blocked_by("MODEL-010"):  # the deleted page is gone, whatever the tenancy
            assert flow.node("PageCountNode", {"filter": {"slug": "acme-gone"}})["count"] == 0
        if operation.endswith("_or"):  # `$or` itself is QUERY-006's: without it, this test judges nothing
            with blocked_by("QUERY-006"):
                either = {"filter": {"$or": [{"slug": "acme-0"}, {"slug": "acme-1"}]}}
                assert [r["slug"] for r in flow.node("PageListNode", either)["records"]] == ["acme-0", "acme-1"]
        answered = act(flow, created)
    assert snapshot_of(probe, "globex", "pages") == globex_before, f"{operation} as acme changed globex's pages"
    if expected is not None:
        assert answered == expected, f"{operation} as acme answered {answered!r}, not {expected!r} (acme's pages alone)"


@pytest.mark.clause("TENANT-002", "MODEL-010")
@pytest.mark.parametrize("operation", sorted(KEYS_OF_ANOTHER_TENANT))
def test_a_key_only_another_tenant_deleted_is_free(make_dataflow, probe, flow, operation):
    """A soft-deleted record keeps its key (MODEL-010) within its tenant only: the lookup that refuses a
    deleted record's key must carry the tenant, or acme is refused (and told of) a key only globex held."""
    db, _ = tenant_pages(make_dataflow, probe)
    per_tenant_keys(probe, db, "pages", {t: {"slug": "both", "title": "t", "deleted_at": None} for t in TENANTS})
    globex_before = snapshot_of(probe, "globex", "pages")
    with as_acme(db):
        answered = KEYS_OF_ANOTHER_TENANT[operation](flow, "globex-gone")
    assert snapshot_of(probe, "globex", "pages") == globex_before, f"{operation} as acme changed globex's pages"
    assert answered, f"{operation} as acme of a key only globex's deleted page holds did not create acme's page"
    mine = [r for r in rows_of(probe, "acme", "pages") if r["slug"] == "globex-gone"]
    assert [(r["title"], r["deleted_at"]) for r in mine] == [("acme's", None)], f"acme's pages with the key: {mine}"


def _globex_alone_holds_theirs(make_dataflow, probe):
    """globex holds `theirs@x.org`; the same key in both tenants first (`both@x.org`), so that acme writing
    globex's key judges the lookup, not whether unique keys are per tenant (TENANT-007: blocked without)."""
    db = tenant_db(make_dataflow)
    per_tenant_keys(probe, db, "users", {t: {**USER_DEFAULTS, "name": "both", "email": "both@x.org"} for t in TENANTS})
    seed_users(probe, db, [{"name": "globex-only", "email": "theirs@x.org", "tenant_id": "globex"}])
    return db, rows_of(probe, "globex")


def _acme_holds(probe, email_address):
    return [(r["name"], r["age"]) for r in rows_of(probe, "acme") if r["email"] == email_address]


@pytest.mark.clause("TENANT-002")
def test_an_upsert_of_a_key_only_another_tenant_holds_creates_the_bound_tenants_record(make_dataflow, probe, flow):
    db, globex_before = _globex_alone_holds_theirs(make_dataflow, probe)
    params = {"where": {"email": "theirs@x.org"}, "create": {"name": "acme-a", "age": 50}, "update": {"age": 9}}
    with as_acme(db):
        result = flow.node("UserUpsertNode", params)
    assert rows_of(probe, "globex") == globex_before, "an upsert as acme changed globex's rows"
    assert result["created"] is True, f"an upsert of a key acme does not hold answered {result!r}"
    assert _acme_holds(probe, "theirs@x.org") == [("acme-a", 50)], "acme's record with the key"


@pytest.mark.clause("TENANT-002")
def test_bulk_upserts_of_a_key_only_another_tenant_holds_create_the_bound_tenants_record(make_dataflow, probe, flow):
    _bulk_upsert_keys_only_globex_holds(make_dataflow, probe, flow, "update")


@pytest.mark.clause("TENANT-002")
@pytest.mark.paths(*WORKFLOW_PATHS)  # conflict_resolution="skip" is a node feature
def test_skipping_bulk_upserts_of_a_key_only_another_tenant_holds_create_the_bound_tenants_record(
    make_dataflow, probe, flow
):
    _bulk_upsert_keys_only_globex_holds(make_dataflow, probe, flow, "skip")


def _bulk_upsert_keys_only_globex_holds(make_dataflow, probe, flow, resolution):
    """A bulk upsert's lookup of existing keys without the tenant finds globex's record: it then counts acme's
    new record as updated or skipped and writes nothing, or changes globex's. Batches of one record, so every
    batch's lookup is judged; both records name the same fields (BULK-011 is not the subject)."""
    db, globex_before = _globex_alone_holds_theirs(make_dataflow, probe)
    data = [{"name": "acme-a", "email": "theirs@x.org", "age": 50}, {"name": "acme-b", "email": "new@x.org", "age": 7}]
    params = {"data": data, "conflict_on": ["email"], "batch_size": 1}
    if resolution == "skip":
        params["conflict_resolution"] = "skip"
    with as_acme(db):
        result = flow.node("UserBulkUpsertNode", params)
    assert rows_of(probe, "globex") == globex_before, "a bulk upsert as acme changed globex's rows"
    counts = (result["inserted"], result["updated"], result["skipped"])
    assert counts == (2, 0, 0), f"(inserted, updated, skipped) of two new acme records: {counts}"
    assert _acme_holds(probe, "theirs@x.org") == [("acme-a", 50)], "acme's record with the key"


@pytest.mark.clause("TENANT-002")
@pytest.mark.paths(*EXPRESS_PATHS)  # find_one is an express call
def test_find_one_finds_the_bound_tenants_record_when_another_tenants_comes_first(make_dataflow, probe, flow):
    db = tenant_db(make_dataflow)
    for tenant in ("globex", "acme"):  # globex's rows first: the lower ids
        seed_users(probe, db, [{"name": f"{tenant}-0", "email": email(tenant, 0), "tenant_id": tenant}])
    with as_acme(db):
        found = flow.call("find_one", "User", {"age": 0})
        missing = flow.call("find_one", "User", {"email": email("globex", 0)})
    assert (found or {}).get("name") == "acme-0", f"find_one as acme found {found!r}"
    assert missing is None, f"find_one as acme of globex's email found {missing!r}"


@pytest.mark.clause("TENANT-002")
@pytest.mark.paths(*EXPRESS_PATHS)  # express.upsert(model, data, conflict_on) has no node form
def test_express_upsert_of_a_key_only_another_tenant_holds_creates_the_bound_tenants_record(make_dataflow, probe, flow):
    """Judged in the table only: no clause says what express.upsert answers."""
    db, globex_before = _globex_alone_holds_theirs(make_dataflow, probe)
    with as_acme(db):
        flow.call("upsert", "User", {"name": "acme-a", "email": "theirs@x.org", "age": 50}, ["email"])
    assert rows_of(probe, "globex") == globex_before, "express.upsert as acme changed globex's rows"
    assert _acme_holds(probe, "theirs@x.org") == [("acme-a", 50)], "acme's record with the key"


# -- TENANT-003: a supplied tenant_id never reaches another tenant ----------------------------


@pytest.mark.clause("TENANT-003")
@pytest.mark.parametrize("place", list(SUPPLIED))
def test_supplied_tenant_id_never_reaches_another_tenant(make_dataflow, probe, flow, place):
    check_supplied_tenant_id(make_dataflow, probe, flow, *SUPPLIED[place])


@pytest.mark.clause("TENANT-003")
@pytest.mark.paths(*WORKFLOW_PATHS)
@pytest.mark.parametrize("place", list(WORKFLOW_ONLY_SUPPLIED))
def test_supplied_tenant_id_in_guard_keys(make_dataflow, probe, flow, place):
    check_supplied_tenant_id(make_dataflow, probe, flow, *WORKFLOW_ONLY_SUPPLIED[place])


@pytest.mark.clause("TENANT-004")
@pytest.mark.parametrize("operation", [o.name for o in OPERATIONS if o.name not in NODE_ONLY_OPERATIONS])
def test_no_tenant_bound_fails_closed(make_dataflow, probe, flow, operation):
    node_type = BY_NAME[operation].node_type("User")
    check_fails_closed(make_dataflow, probe, flow, lambda path: path.node(node_type, CALLS[operation]))


@pytest.mark.clause("TENANT-004")
@pytest.mark.paths(*WORKFLOW_PATHS)  # updates and deletes by filter are node features
@pytest.mark.parametrize("operation", sorted(NODE_ONLY_OPERATIONS))
def test_no_tenant_bound_fails_closed_for_nodes_by_filter(make_dataflow, probe, flow, operation):
    node_type = BY_NAME[operation].node_type("User")
    check_fails_closed(make_dataflow, probe, flow, lambda path: path.node(node_type, CALLS[operation]))


@pytest.mark.clause("TENANT-004")
@pytest.mark.paths(*EXPRESS_PATHS)
@pytest.mark.parametrize(
    "method, arguments",
    [("bulk_update", ([{"id": 1, "age": 5}],)), ("bulk_delete", ([1],))],
    ids=["bulk_update", "bulk_delete"],
)
def test_no_tenant_bound_fails_closed_for_express_bulk_writes_by_key(make_dataflow, probe, flow, method, arguments):
    check_fails_closed(make_dataflow, probe, flow, lambda path: path.call(method, "User", *arguments))


@pytest.mark.clause("TENANT-005")
def test_unregistered_tenant_is_refused(make_dataflow, probe, flow):
    db = tenant_db(make_dataflow)
    seed_tenants(probe, db)
    before = probe.snapshot("users")

    def as_stranger():
        with db.tenant_context.switch("initech"):
            flow.node("UserCreateNode", {"name": "n", "email": "n@x.org"})

    expect_failure(as_stranger, "initech")
    assert probe.snapshot("users") == before


@pytest.mark.clause("TENANT-005")
def test_a_tenant_cannot_be_registered_twice(make_dataflow):
    db = tenant_db(make_dataflow)
    expect_failure(lambda: db.tenant_context.register_tenant("acme", "Acme again"), "acme")


# -- TENANT-009: what a tenant id can be ----------------------------------------------------------


@pytest.mark.clause("TENANT-009")
def test_a_tenant_id_is_recorded_whole_or_refused(make_dataflow, probe, flow):
    db = tenant_db(make_dataflow)
    seed_tenants(probe, db)
    accepted = []
    for tenant_id in ("t" * 255, "u" * 256):
        try:
            db.tenant_context.register_tenant(tenant_id, "Long")
        except Exception as error:
            assert len(tenant_id) > 255, f"a tenant id of {len(tenant_id)} characters was refused: {error}"
            continue
        with db.tenant_context.switch(tenant_id):
            flow.node("UserCreateNode", {"name": tenant_id[0], "email": f"{tenant_id[0]}@x.org"})
        accepted.append(tenant_id)
    stored = probe.column("SELECT tenant_id FROM users WHERE name IN ('t', 'u') ORDER BY name")
    assert stored == accepted, "a row does not record its tenant's id unchanged"


@pytest.mark.clause("TENANT-009")
@pytest.mark.paths("local")  # registration is the subject; one path writes through the refused binding
def test_an_id_that_cannot_name_a_tenant_is_refused(make_dataflow, probe, flow):
    db = tenant_db(make_dataflow)
    seed_tenants(probe, db)
    before = probe.snapshot("users")
    for tenant_id in ("", "   ", "a\x00b", 7, None):
        expect_failure(lambda tenant_id=tenant_id: db.tenant_context.register_tenant(tenant_id, "Bad"))

        def as_it(tenant_id=tenant_id):
            with db.tenant_context.switch(tenant_id):
                flow.node("UserCreateNode", {"name": "n", "email": "n@x.org"})

        expect_failure(as_it)
    assert probe.snapshot("users") == before


# -- TENANT-006: concurrency ------------------------------------------------------------------


@pytest.mark.clause("TENANT-006")
@pytest.mark.paths(*WORKFLOW_PATHS)  # create and list in one workflow, many workflows at once
def test_interleaved_tenants_never_see_each_other(make_dataflow, probe, flow):
    tenant_db(make_dataflow)  # bound to the path
    tenants = [TENANTS[i % 2] for i in range(40)]
    outputs = flow.concurrently([create_and_list(t, i) for i, t in enumerate(tenants)], tenants=tenants, threads=2)
    failed = [o for o in outputs if isinstance(o, Exception)]
    assert not failed, f"{len(failed)} of {len(outputs)} workflows failed, e.g. {failed[0]!r}"
    for tenant, results in zip(tenants, outputs, strict=True):
        names = [r["name"] for r in results["list"]["records"]]
        assert all(name.startswith(f"{tenant}-") for name in names), f"{tenant} saw {names}"
    rows = probe.rows("users")
    assert len(rows) == len(tenants)
    assert all(row["name"].startswith(f"{row['tenant_id']}-") for row in rows), "a row was stored under another tenant"


# -- TENANT-008: isolation enforced by the database itself -------------------------------------

RLS_ROLE_PASSWORD = "dfc-rls"  # a throwaway role created and dropped by the test


@pytest.fixture
def unprivileged_url(backend, database_url, probe):
    """The test database as an ordinary role (superusers bypass row-level security)."""
    from sqlalchemy.engine import make_url

    from ..backends.probe import Probe

    role = f"dfc_rls_{probe.scalar('SELECT md5(random()::text)')[:10]}"
    database = make_url(database_url).database
    probe.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{RLS_ROLE_PASSWORD}' NOSUPERUSER NOBYPASSRLS")
    probe.execute(f'GRANT ALL ON DATABASE "{database}" TO {role}')
    probe.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    url = make_url(database_url).set(username=role, password=RLS_ROLE_PASSWORD)
    role_probe = Probe(probe.engine.url.set(username=role, password=RLS_ROLE_PASSWORD))
    yield url.render_as_string(hide_password=False), role_probe
    role_probe.close()
    probe.execute(f"DROP OWNED BY {role}")
    probe.execute(f"DROP ROLE {role}")


@pytest.mark.clause("TENANT-008")
@pytest.mark.backends("postgresql")
def test_database_enforces_tenant_isolation(make_dataflow, probe, flow, unprivileged_url):
    url, as_role = unprivileged_url
    db = make_dataflow(url, multi_tenant=True)
    define_user(db)
    for tenant in TENANTS:
        db.tenant_context.register_tenant(tenant, tenant.title())
    seed_tenants(probe, db)
    with as_acme(db):
        assert flow.node("UserCountNode", {})["count"] == 3
        flow.node("UserBulkCreateNode", {"data": [{"name": "acme-b", "email": "b@x.org"}]})
    assert probe.scalar("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'users'::regclass"), (
        "row-level security is not enabled and forced on the table"
    )
    # An ordinary connection of the table's own role sees no row unless it names a tenant ...
    assert as_role.scalar("SELECT count(*) FROM users") == 0
    with as_role.engine.connect() as conn:
        conn.exec_driver_sql("SELECT set_config('dataflow.tenant_id', 'acme', false)")
        assert conn.exec_driver_sql("SELECT count(*) FROM users").scalar() == 4
        # ... and cannot move a row into another tenant while it acts as one.
        with pytest.raises(Exception, match="row-level security"):
            conn.exec_driver_sql(f"UPDATE users SET tenant_id = 'globex' WHERE email = '{email('acme', 0)}'")
    assert sorted(r["tenant_id"] for r in probe.rows("users")) == ["acme"] * 4 + ["globex"] * 3
