"""The pack bites: copies of the reference with one deliberate, plausible bug each must fail the
tests written to catch that bug."""

import os

import pytest

# read before run_pack hides them from the pack
SERVER_URLS = {"postgresql": os.environ.get("DFC_POSTGRESQL_URL"), "mysql": os.environ.get("DFC_MYSQL_URL")}


class Mutant:
    def __init__(self, file, original, mutated, tests, backend="sqlite", extra=()):
        self.file, self.original, self.mutated = file, original, mutated
        self.tests = tests  # a -k expression: the tests that must catch it
        self.backend = backend
        self.extra = list(extra)  # more mutants applied with this one


MUTANTS = {
    # TENANT: isolation bugs
    "count_ignores_tenant": Mutant(
        "crud.py",
        "stmt = self.visible(select(func.count()).select_from(self.table).where(where))",
        "stmt = select(func.count()).select_from(self.table).where(where)",
        "test_tenant",
    ),
    "update_takes_tenant_from_fields": Mutant(
        "crud.py",
        'values = self.check_fields(fields, where="fields", partial=True)\n        if not values:\n'
        '            self.fail("fields", "names no field to update")\n        values["updated_at"]',
        'values = self.check_fields({k: v for k, v in fields.items() if k != "tenant_id"}, where="fields", '
        'partial=True) | {k: v for k, v in fields.items() if k == "tenant_id"}\n        if not values:\n'
        '            self.fail("fields", "names no field to update")\n        values["updated_at"]',
        "test_tenant",
    ),
    "bulk_delete_ignores_tenant": Mutant(
        "bulk.py",
        "stmt = self.store.visible(sql_delete(self.table).where(where))",
        "stmt = sql_delete(self.table).where(where)",
        "test_tenant",
    ),
    # MODEL-004: a write that forgets updated_at
    "bulk_update_keeps_updated_at": Mutant(
        "bulk.py",
        'self.store.fail("fields", "names no field to update")\n        values["updated_at"] = utc_now()',
        'self.store.fail("fields", "names no field to update")',
        "test_every_node_update_by_filter_advances_updated_at_only",
    ),
    "upsert_update_keeps_updated_at": Mutant(
        "crud.py",
        'values = {**update_values, "updated_at": utc_now()}',
        "values = dict(update_values)",
        "test_every_update_advances_updated_at_only",
    ),
    # QUERY-009: offset applied only together with limit
    "offset_needs_limit": Mutant(
        "crud.py", "        if offset:\n", "        if offset and limit is not None:\n", "test_offset_without_limit"
    ),
    # BULK-011: the update of a bulk upsert resets the fields a record omits
    "bulk_upsert_resets_omitted_fields": Mutant(
        "bulk.py",
        "self._upsert_statement(keys, resolution, self._updated_columns(fields, keys))",
        "self._upsert_statement(keys, resolution, self._updated_columns(rows[positions[0]], keys))",
        "test_bulk_upsert_sets_only_the_fields_each_record_names",
    ),
    # MODEL-010: a bulk upsert that updates a soft-deleted row (and reports an insert)
    "bulk_upsert_ignores_deleted_keys": Mutant(
        "bulk.py",
        "        if not self.spec.soft_delete:\n            return\n        deleted =",
        "        if True:\n            return\n        deleted =",
        "test_writes_naming_a_soft_deleted_key_are_refused",
    ),
    # TXN-001: parallel branches of a scope on one connection at the same time
    "scope_operations_not_serialised": Mutant(
        "transactions.py",
        "        async with self._busy:\n            self.require_active(action)",
        "        if True:\n            self.require_active(action)",
        "test_parallel_branches_share_the_scope",
    ),
    # TXN-011: a node of an expired scope falls back to a transaction of its own
    "expired_scope_autocommits": Mutant(
        "nodes.py",
        "        if from_context is not None and db is not None:\n",
        "        if from_context is not None and db is not None and db.transactions._open.get(from_context):\n",
        "test_timed_out_scope_takes_later_nodes_with_it",
    ),
    # TXN-012: without rollback_on_error, a failed statement aborts PostgreSQL's whole transaction
    "no_savepoint_without_rollback_on_error": Mutant(
        "transactions.py",
        "            if self.rollback_on_error:\n                yield self.connection",
        "            if True:\n                yield self.connection",
        "test_without_rollback_on_error_only_the_failing_node_is_undone",
        backend="postgresql",
    ),
    # NODE-004 / CONF-007: close() leaves the home loop's thread running
    "close_keeps_home_thread": Mutant(
        "core.py",
        "        self.database.close_engines()\n        self.runner.home.stop()",
        "        self.database.close_engines()",
        "test_close_leaves_nothing_behind",
    ),
    # NODE-004 / CONF-007: closing a loop's pool leaves its keeper task pending on the caller's loop
    "close_leaves_keeper_task": Mutant(
        "engines.py",
        "            self._keeper.cancel()\n            await asyncio.wait([self._keeper])",
        "            pass",
        "test_close_leaves_nothing_behind",
    ),
    # ERR-007: a unique violation that does not say which field
    "violation_without_field": Mutant(
        "crud.py",
        'return self.db.transaction(write=write, describe=lambda message: f"{self.spec.name}: {self.violation(message)}")',
        "return self.db.transaction(write=write)",
        "test_unique_violation_is_an_implementation_error",
    ),
    # Lookup and write disagree: an upsert that finds its record by all the keys of `where`, not by
    # `conflict_on` (a record that exists is missed, then refused as a duplicate)
    "upsert_matches_all_where_keys": Mutant(
        "crud.py",
        'match = self.filters.compile({name: where[name] for name in conflict_on}, where="where")',
        'match = self.filters.compile(where, where="where")',
        "test_upsert_matches_on_conflict_on",
    ),
    # ... and an upsert that looks its key up across tenants, then writes under the tenant (writes nothing)
    "upsert_lookup_ignores_tenant": Mutant(
        "crud.py",
        "stmt = self.of_tenant(select(*self.table.c).where(match)).with_for_update()",
        "stmt = select(*self.table.c).where(match).with_for_update()",
        "test_upserts_match_the_bound_tenants_record",
    ),
    # ... and the express bulk update, which finds its keys across tenants and writes under the tenant
    "express_bulk_update_lookup_ignores_tenant": Mutant(
        "bulk.py",
        "stmt = self.store.visible(select(self.table.c.id).where(match)).with_for_update()",
        "stmt = select(self.table.c.id).where(match).with_for_update()",
        "test_express_bulk_writes_by_key_touch_only_the_bound_tenant",
    ),
    # TENANT-002 on a soft-delete model: a delete is an UPDATE of deleted_at, built without the tenant's term
    "soft_delete_ignores_tenant": Mutant(
        "crud.py",
        "self._delete_by_id = self.visible(sql_update(table).where(by_id))",
        "self._delete_by_id = sql_update(table).where(by_id).where(table.c[SOFT_DELETE_FIELD].is_(None))",
        "test_soft_delete_models_touch_only_the_bound_tenant",
    ),
    # ... and a bulk upsert's lookups of existing and deleted keys without the tenant (a key only another tenant
    # holds counts as acme's: reported updated or skipped, or refused as deleted)
    "bulk_upsert_key_lookups_ignore_tenant": Mutant(
        "bulk.py",
        "stmt = self.store.of_tenant(stmt).where(self.table.c[SOFT_DELETE_FIELD].is_not(None))\n"
        "            else:\n                stmt = self.store.visible(stmt)\n",
        "stmt = stmt.where(self.table.c[SOFT_DELETE_FIELD].is_not(None))\n"
        "            elif self.spec.soft_delete:\n"
        "                stmt = stmt.where(self.table.c[SOFT_DELETE_FIELD].is_(None))\n",
        "key_only_another_tenant",
    ),
    # SAFE-002: filter keys checked only at the top level, and a key inside $or/$and/$not spliced as SQL
    "nested_filter_keys_spliced": Mutant(
        "query.py",
        "        if key not in self.visible:\n",
        '        if key not in self.visible and where != "filter":\n'
        "            from sqlalchemy import literal_column\n\n"
        "            return literal_column(key) == value\n"
        "        if key not in self.visible:\n",
        "test_filter_keys_inside_logical_operators",
    ),
    # An option honoured on one access path but not another: the express list drops order_by
    "express_list_ignores_order_by": Mutant(
        "express.py",
        "            order_by=None if order_by is None else [order_by],",
        "            order_by=None,",
        "test_ordering_by_one_field",
    ),
    # ... and the express find_one takes the last match
    "find_one_returns_the_last_match": Mutant(
        "express.py",
        "records = await self.list(model, filter, limit=1, transaction_id=transaction_id)\n"
        "        return records[0] if records else None",
        "records = await self.list(model, filter, transaction_id=transaction_id)\n"
        "        return records[-1] if records else None",
        "test_find_one_returns_the_first_match",
    ),
    # ERR-007: a unique violation told as the model's first unique index, whichever clashed (PostgreSQL's message
    # names only the index)
    "violation_names_the_first_unique_field": Mutant(
        "crud.py",
        'if index["unique"] and (index["name"] in message',
        'if index["unique"] or (index["name"] in message',
        "test_a_unique_violation_names_the_unique_field_that_clashed",
        backend="postgresql",
    ),
    # TXN-001: an upsert that retries after the server aborted its scope's transaction in a deadlock (MariaDB then
    # runs the retry in a new transaction, and the scope's commit keeps it without the writes before it)
    "upsert_retries_inside_a_scope": Mutant(
        "crud.py",
        "return scope is not None and scope.database is self.db",
        "return scope is not None and scope.database is not self.db",
        "test_a_scope_the_server_aborts_in_a_deadlock",
        backend="mysql",
    ),
    # QUERY-011: an upsert that gives up at its first unique violation or deadlock (upserts of one new key racing)
    "upsert_never_retries": Mutant(
        "crud.py",
        "if attempt == UPSERT_RETRIES - 1 or isinstance(exc, ConflictError) and self.in_scope():",
        "if attempt < UPSERT_RETRIES - 1 or isinstance(exc, ConflictError) and self.in_scope():",
        "test_concurrent_upserts_of_one_new_key",
        backend="mysql",
    ),
    # ... and without rollback_on_error: the node's savepoint rolled back after the deadlock (InnoDB has dropped
    # it) fails on its own, the scope stays open, and its commit answers success with nothing stored
    "savepoint_rolled_back_after_a_conflict": Mutant(
        "transactions.py",
        "if savepoint.is_active and not self.connection.invalidated and not conflict:",
        "if savepoint.is_active and not self.connection.invalidated:",
        "test_a_scope_the_server_aborts_in_a_deadlock",
        backend="mysql",
    ),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_pack_catches_the_mutant(run_pack, mutate_reference, name):
    mutant = MUTANTS[name]
    backend = ["--dataflow-db", "sqlite"]
    if mutant.backend != "sqlite":
        if not SERVER_URLS[mutant.backend]:
            pytest.skip(f"this mutant shows only on {mutant.backend}: set DFC_{mutant.backend.upper()}_URL")
        backend = ["--dataflow-dburi", SERVER_URLS[mutant.backend]]
    module = mutate_reference(f"mutant_{name}", MUTANTS[name])
    result = run_pack(f"--dataflow-impl={module}", *backend, "-k", mutant.tests, "--maxfail=1", "-q")
    outcomes = result.parseoutcomes()
    output = result.stdout.str() + result.stderr.str()
    assert outcomes.get("failed", 0) >= 1, f"no test of {mutant.tests!r} failed against {name}:\n{output[-2000:]}"
    assert "INTERNALERROR" not in output
