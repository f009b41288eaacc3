"""The DataFlow side: the six models on any implementation (a module exposing `DataFlow`), the writes the
migration makes through its generated nodes, and the permission check Django's `has_perm` is compared with."""

import contextlib
import importlib
import logging
from datetime import datetime
from typing import Optional

from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from .schema import TABLES, Table, canonical

DEFAULT_PREFIX = "dfm"
LIST_LIMIT = 10_000_000  # "every row": ListNode pages, and the default page is small

# Kailash logs a warning per workflow when a record (it holds datetimes) cannot be checkpointed as JSON.
logging.getLogger("kailash.runtime.execution_tracker").setLevel(logging.ERROR)


def open_target(module: str, url: str, prefix: str = DEFAULT_PREFIX):
    """A DataFlow instance of `module` on `url` with the six models, tables named `<prefix>_<table>`."""
    db = importlib.import_module(module).DataFlow(url)
    for table in TABLES:
        annotations = {"django_id": int, **table.fields}
        defaults = {name: None for name, kind in table.fields.items() if kind == Optional[datetime]}  # noqa: UP045
        index = {"name": f"uq_{prefix}_{table.name}_django_id", "fields": ["django_id"], "unique": True}
        namespace = {
            "__annotations__": annotations,
            "__tablename__": f"{prefix}_{table.name}",
            "__dataflow__": {"indexes": [index]},
            **defaults,
        }
        db.model(type(table.model, (), namespace))
    return db


class Target:
    """Runs the generated nodes of one DataFlow instance under LocalRuntime."""

    def __init__(self, db):
        self.db = db
        self._resources = contextlib.ExitStack()
        self.runtime = self._resources.enter_context(LocalRuntime(enable_monitoring=False))
        self.runtime.logger.setLevel(logging.WARNING)  # every new runtime logs each node at INFO

    def run(self, *nodes) -> dict:
        builder = WorkflowBuilder()
        for node_type, node_id, params in nodes:
            builder.add_node(node_type, node_id, params)
        results, _ = self.runtime.execute(builder.build())
        return results

    def rows(self, table: Table) -> dict[int, tuple[int, tuple]]:
        """The stored rows through the implementation: Django id -> (DataFlow id, canonical row)."""
        records = self.run((f"{table.model}ListNode", "all", {"filter": {}, "limit": LIST_LIMIT}))["all"]["records"]
        return {r["django_id"]: (r["id"], canonical(table, [r[c] for c in table.columns])) for r in records}

    def create(self, table: Table, rows: list[tuple]) -> int:
        """One BulkCreateNode: all of `rows` or none (bulk atomicity)."""
        data = [record(table, row) for row in rows]
        result = self.run((f"{table.model}BulkCreateNode", "create", {"data": data, "batch_size": len(data)}))["create"]
        if result.get("success") is False or result.get("inserted") != len(rows):
            raise RuntimeError(f"{table.name}: BulkCreateNode stored {result.get('inserted')} of {len(rows)}: {result}")
        return len(rows)

    def update(self, table: Table, dataflow_id: int, row: tuple) -> None:
        fields = record(table, row)
        fields.pop("django_id")
        params = {"filter": {"id": dataflow_id}, "fields": fields}
        result = self.run((f"{table.model}UpdateNode", "update", params))["update"]
        if not result.get("updated", True):
            raise RuntimeError(f"{table.name}: row {row[0]} was not updated: {result}")

    def has_perm(self, user_django_id: int, perm: str) -> bool:
        """Django's ModelBackend rule: `perm` ("app_label.codename") is one of the user's permissions."""
        return perm in self.permissions(user_django_id)

    def permissions(self, user_django_id: int) -> set[str]:
        """Like Django's ModelBackend.get_all_permissions: nothing for an inactive or unknown user, every
        permission for an active superuser, else the user's own grants and their groups' grants."""
        facts = self.run(
            ("AuthUserListNode", "user", {"filter": {"django_id": user_django_id}, "limit": 1}),
            ("AuthMembershipListNode", "groups", {"filter": {"user_django_id": user_django_id}, "limit": LIST_LIMIT}),
            ("AuthUserGrantListNode", "direct", {"filter": {"user_django_id": user_django_id}, "limit": LIST_LIMIT}),
        )
        users = facts["user"]["records"]
        if not users or not users[0]["is_active"]:
            return set()
        permission_filter = {}
        if not users[0]["is_superuser"]:
            group_ids = [m["group_django_id"] for m in facts["groups"]["records"]]
            grants = (
                self.run(
                    (
                        "AuthGroupGrantListNode",
                        "grants",
                        {"filter": {"group_django_id": {"$in": group_ids}}, "limit": LIST_LIMIT},
                    )
                )["grants"]["records"]
                if group_ids
                else []
            )
            ids = {g["permission_django_id"] for g in grants + facts["direct"]["records"]}
            if not ids:
                return set()
            permission_filter = {"django_id": {"$in": sorted(ids)}}
        records = self.run(("AuthPermissionListNode", "perms", {"filter": permission_filter, "limit": LIST_LIMIT}))
        return {f"{p['app_label']}.{p['codename']}" for p in records["perms"]["records"]}

    def close(self) -> None:
        self._resources.close()
        self.db.close()


def record(table: Table, row: tuple) -> dict:
    """A canonical row as the field values a DataFlow node takes."""
    out = {}
    for column, value in zip(table.columns, row, strict=True):
        if value is not None and table.fields.get(column) in (datetime, Optional[datetime]):  # noqa: UP045
            value = datetime.fromisoformat(value)
        out[column] = value
    return out
