"""A Hypothesis state machine that drives a DataFlow implementation and checks it against a model.

Random sequences of creates, updates, deletes, upserts, the four bulk operations and transaction
scopes (committed or rolled back) run through one access path, optionally across two tenants.
After every step the machine compares Read, List and Count through the implementation, and the
raw table through an independent connection, with a small in-memory model of what the table
must hold. Any implementation can reuse it (as zarr's testing/stateful.py is reused):

    Machine = build_machine(new_dataflow, probe, runner, tenants=("acme", "globex"))
    hypothesis.stateful.run_state_machine_as_test(Machine, settings=...)

`new_dataflow()` returns a fresh instance on an empty `users` table (created: `create_tables()`)
with the User model defined (and the tenants registered); `probe` is a dataflow_conformance.backends.Probe on the same database;
`runner` is an access path (dataflow_conformance.access.protocol.AccessPath) whose
`node(type, params, db=)` runs one operation. Updates and deletes by filter, and transaction scopes, are
workflow features: on an express path the machine uses the express API's own bulk writes by key instead.
"""

import contextlib

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from kailash.workflow.builder import WorkflowBuilder

EMAILS = [f"e{i}@x.org" for i in range(6)]  # few, so that conflicts and repeats happen
NAMES = ["ann", "O'Brien", "zoë", "DROP TABLE users;--"]
FIELDS = ("name", "age", "active")  # what the model tracks; every write sets all of them or none

emails = st.sampled_from(EMAILS)
ages = st.integers(min_value=0, max_value=5)
records = st.fixed_dictionaries({"name": st.sampled_from(NAMES), "email": emails, "age": ages, "active": st.booleans()})


def build_machine(new_dataflow, probe, runner, *, tenants=None, transactions=True):
    """A RuleBasedStateMachine class bound to the given factory, probe and access path."""
    tenant_names = list(tenants or [None])
    tenant_choice = st.sampled_from(tenant_names)

    class DataFlowMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.db = new_dataflow()
            self.model: dict[tuple, dict] = {}  # (tenant, email) -> {"name", "age", "active"}
            self.steps = 0

        def teardown(self):
            close = getattr(self.db, "close", None)
            if close is not None:
                close()

        # -- helpers ---------------------------------------------------------------------------

        def as_tenant(self, tenant):
            return self.db.tenant_context.switch(tenant) if tenant else contextlib.nullcontext()

        def call(self, tenant, node_type, params):
            with self.as_tenant(tenant):
                return runner.node(node_type, params, db=self.db)

        def expect(self, should_succeed: bool, tenant, node_type, params):
            try:
                result = self.call(tenant, node_type, params)
            except Exception as exc:
                assert not should_succeed, f"{node_type} {params} failed but should have succeeded: {exc}"
                return None
            assert should_succeed, f"{node_type} {params} succeeded but should have failed: {result}"
            return result

        def rows(self, tenant):
            if tenant is None:
                return self.probe_rows()
            return [r for r in self.probe_rows() if r["tenant_id"] == tenant]

        def probe_rows(self):
            tenant_column = ", tenant_id" if tenants else ""
            return probe.query(f"SELECT id, name, email, age, active{tenant_column} FROM users")

        def id_of(self, tenant, email):
            """The stored id of a record, read through the independent connection (or a missing id)."""
            found = [r["id"] for r in self.rows(tenant) if r["email"] == email]
            return found[0] if found else 10**9

        def mine(self, tenant):
            return {email: values for (owner, email), values in self.model.items() if owner == tenant}

        # -- single-record rules ---------------------------------------------------------------

        @rule(tenant=tenant_choice, record=records)
        def create(self, tenant, record):
            fresh = (tenant, record["email"]) not in self.model
            if self.expect(fresh, tenant, "UserCreateNode", record) is not None:
                self.model[(tenant, record["email"])] = {k: record[k] for k in FIELDS}

        # `owner` is the tenant whose record's id is used: another tenant's id must match nothing.
        @rule(tenant=tenant_choice, owner=tenant_choice, email=emails, age=ages, active=st.booleans())
        def update(self, tenant, owner, email, age, active):
            params = {"filter": {"id": self.id_of(owner, email)}, "fields": {"age": age, "active": active}}
            result = self.call(tenant, "UserUpdateNode", params)
            exists = owner == tenant and (tenant, email) in self.model
            assert result["updated"] is exists, f"update of {email}: updated={result['updated']}, exists={exists}"
            if exists:
                self.model[(tenant, email)].update(age=age, active=active)

        @rule(tenant=tenant_choice, owner=tenant_choice, email=emails)
        def delete(self, tenant, owner, email):
            result = self.call(tenant, "UserDeleteNode", {"id": self.id_of(owner, email)})
            exists = owner == tenant and self.model.pop((tenant, email), None) is not None
            assert result["deleted"] is exists, f"delete of {email}: deleted={result['deleted']}, exists={exists}"

        @rule(tenant=tenant_choice, record=records)
        def upsert(self, tenant, record):
            params = {
                "where": {"email": record["email"]},
                "create": {"name": record["name"], "age": record["age"], "active": record["active"]},
                "update": {"age": record["age"], "active": record["active"]},
                "conflict_on": ["email"],
            }
            result = self.call(tenant, "UserUpsertNode", params)
            key = (tenant, record["email"])
            assert result["created"] is (key not in self.model), f"upsert of {record['email']}: {result}"
            if key in self.model:
                self.model[key].update(age=record["age"], active=record["active"])
            else:
                self.model[key] = {k: record[k] for k in FIELDS}

        # -- bulk rules --------------------------------------------------------------------------

        @rule(tenant=tenant_choice, batch=st.lists(records, max_size=5))
        def bulk_create(self, tenant, batch):
            batch_emails = [r["email"] for r in batch]
            clean = len(set(batch_emails)) == len(batch_emails) and not any(
                (tenant, e) in self.model for e in batch_emails
            )
            result = self.expect(clean, tenant, "UserBulkCreateNode", {"data": batch})
            if result is not None:
                assert result["inserted"] == len(batch), result
                for r in batch:
                    self.model[(tenant, r["email"])] = {k: r[k] for k in FIELDS}

        @precondition(lambda self: runner.runs_workflows)
        @rule(tenant=tenant_choice, least=ages, active=st.booleans())
        def bulk_update(self, tenant, least, active):
            params = {"filter": {"age": {"$gte": least}}, "fields": {"active": active}}
            result = self.call(tenant, "UserBulkUpdateNode", params)
            matched = [v for v in self.mine(tenant).values() if v["age"] >= least]
            assert result["updated"] == len(matched), f"bulk update age>={least}: {result}, model {len(matched)}"
            for values in matched:
                values["active"] = active

        @precondition(lambda self: runner.runs_workflows)
        @rule(tenant=tenant_choice, below=ages)
        def bulk_delete(self, tenant, below):
            result = self.call(tenant, "UserBulkDeleteNode", {"filter": {"age": {"$lt": below}}})
            doomed = [e for e, v in self.mine(tenant).items() if v["age"] < below]
            assert result["deleted"] == len(doomed), f"bulk delete age<{below}: {result}, model {len(doomed)}"
            for email in doomed:
                del self.model[(tenant, email)]

        @rule(
            tenant=tenant_choice,
            batch=st.lists(records, max_size=5, unique_by=lambda r: r["email"]),
            # The express bulk_upsert always updates; skipping is a node feature.
            resolution=st.sampled_from(["update", "skip"] if runner.runs_workflows else ["update"]),
        )
        def bulk_upsert(self, tenant, batch, resolution):
            params = {"data": batch, "conflict_on": ["email"], "conflict_resolution": resolution}
            result = self.call(tenant, "UserBulkUpsertNode", params)
            existing = [r for r in batch if (tenant, r["email"]) in self.model]
            expected = {"inserted": len(batch) - len(existing)}
            expected["updated" if resolution == "update" else "skipped"] = len(existing)
            assert {k: result[k] for k in expected} == expected, f"bulk upsert ({resolution}): {result}"
            for r in batch:
                if resolution == "update" or (tenant, r["email"]) not in self.model:
                    self.model[(tenant, r["email"])] = {k: r[k] for k in FIELDS}

        # -- transaction scopes ---------------------------------------------------------------------

        @precondition(lambda self: not runner.runs_workflows)
        @rule(tenant=tenant_choice, owner=tenant_choice, emails_=st.lists(emails, max_size=3, unique=True),
              active=st.booleans())  # fmt: skip
        def express_bulk_update(self, tenant, owner, emails_, active):
            """The express API's bulk update by key; another tenant's ids must match nothing."""
            records = [{"id": self.id_of(owner, e), "active": active} for e in emails_ if (owner, e) in self.model]
            with self.as_tenant(tenant):
                try:
                    runner.call("bulk_update", "User", records, db=self.db)
                except Exception:
                    assert owner != tenant and records, f"express bulk_update of {emails_} failed as its owner"
                    return
            if owner == tenant:
                for e in emails_:
                    if (tenant, e) in self.model:
                        self.model[(tenant, e)]["active"] = active

        @precondition(lambda self: not runner.runs_workflows)
        @rule(tenant=tenant_choice, owner=tenant_choice, emails_=st.lists(emails, max_size=3, unique=True))
        def express_bulk_delete(self, tenant, owner, emails_):
            """The express API's bulk delete by id; another tenant's ids must match nothing."""
            ids = [self.id_of(owner, e) for e in emails_ if (owner, e) in self.model]
            with self.as_tenant(tenant):
                runner.call("bulk_delete", "User", ids, db=self.db)
            if owner == tenant:
                for e in emails_:
                    self.model.pop((tenant, e), None)

        @precondition(lambda self: transactions and runner.runs_workflows)
        @rule(
            tenant=tenant_choice,
            batch=st.lists(records, min_size=1, max_size=3),
            commit=st.booleans(),
        )
        def scope(self, tenant, batch, commit):
            """Creates inside one scope, then commit or rollback; a duplicate rolls all of them back."""
            builder, last = WorkflowBuilder(), "begin"
            builder.add_node("TransactionScopeNode", "begin", {})
            for index, record in enumerate(batch):
                builder.add_node("UserCreateNode", f"c{index}", record)
                builder.add_connection(last, "transaction_id", f"c{index}", "transaction_id")
                last = f"c{index}"
            builder.add_node("TransactionCommitNode" if commit else "TransactionRollbackNode", "end", {})
            builder.add_connection(last, "transaction_id", "end", "transaction_id")
            batch_emails = [r["email"] for r in batch]
            clean = len(set(batch_emails)) == len(batch_emails) and not any(
                (tenant, e) in self.model for e in batch_emails
            )
            try:
                with self.as_tenant(tenant):
                    runner.run(builder, db=self.db)
                failed = None
            except Exception as exc:
                failed = exc
            assert (failed is None) == clean, f"scope of {batch_emails} (commit={commit}): {failed}"
            if clean and commit:
                for r in batch:
                    self.model[(tenant, r["email"])] = {k: r[k] for k in FIELDS}

        # -- checks after every step ------------------------------------------------------------

        @invariant()
        def table_matches_model(self):
            stored = {(r.get("tenant_id") if tenants else None, r["email"]): r for r in self.probe_rows()}
            assert set(stored) == set(self.model), f"table holds {sorted(stored)}, model {sorted(self.model)}"
            for key, values in self.model.items():
                row = stored[key]
                assert (row["name"], row["age"], bool(row["active"])) == tuple(values[k] for k in FIELDS), key

        @invariant()
        def reads_match_model(self):
            for tenant in tenant_names:
                expected = sorted((e, *(v[k] for k in FIELDS)) for e, v in self.mine(tenant).items())
                listed = self.call(tenant, "UserListNode", {"order_by": ["email"]})["records"]
                assert [(r["email"], r["name"], r["age"], r["active"]) for r in listed] == [
                    (e, n, a, act) for e, n, a, act in expected
                ], f"List as {tenant} disagrees with the model"
                assert self.call(tenant, "UserCountNode", {})["count"] == len(expected)
                active = sum(1 for e in expected if e[3])
                assert self.call(tenant, "UserCountNode", {"filter": {"active": True}})["count"] == active
                self.steps += 1
                held = sorted(self.mine(tenant))
                for email in held[self.steps % 3 :: 3]:  # a third of the records per step, each in turn
                    read = self.call(tenant, "UserReadNode", {"id": self.id_of(tenant, email)})
                    assert (read["email"], *(read[k] for k in FIELDS)) == (email, *self.model[(tenant, email)].values())

    return DataFlowMachine
