"""The user-management workload on DataFlow: five models and the four operations as workflows.

Works with any module that exposes `DataFlow` (the reference `dataflow_reference`, or the published
`dataflow`). Passwords are hashed with the Kailash SDK's own user-management hasher
(`kailash.nodes.admin.user_management.hash_password`: bcrypt, cost 12), DataFlow's default.
Workflows run under `LocalRuntime(enable_monitoring=False)` (no run-tracking database), or under
`AsyncLocalRuntime(enable_monitoring=False)` in the ASGI app.
"""

import importlib
import logging

from kailash.nodes.admin.user_management import hash_password
from kailash.nodes.base import Node, NodeParameter, register_node
from kailash.runtime.async_local import AsyncLocalRuntime
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from . import workload

# Kailash logs a warning per workflow when a record (it holds datetimes) cannot be checkpointed as JSON.
logging.getLogger("kailash.runtime.execution_tracker").setLevel(logging.ERROR)


def _quiet(runtime):
    """Every new runtime sets its logger to INFO (a line per node); log at WARNING, as the Django side does."""
    runtime.logger.setLevel(logging.WARNING)
    return runtime


@register_node()
class GrantFilterNode(Node):
    """Turns the user's memberships and the looked-up permission into the filter of the grant count."""

    def get_parameters(self):
        return {
            "memberships": NodeParameter(name="memberships", type=list, required=True),
            "permissions": NodeParameter(name="permissions", type=list, required=True),
        }

    def run(self, memberships, permissions):
        permission_id = permissions[0]["id"] if permissions else -1  # an unknown codename matches no grant
        return {"filter": {"group_id": {"$in": [m["group_id"] for m in memberships]}, "permission_id": permission_id}}


def open_dataflow(module_name: str, url: str, table_prefix: str, pool_size: int | None = None):
    """A DataFlow instance of `module_name` with the five models, tables named `<prefix>_*`."""
    options = {} if pool_size is None else {"pool_size": pool_size}
    db = importlib.import_module(module_name).DataFlow(url, **options)
    models = {
        "User": (
            {"username": str, "email": str, "password": str, "is_active": bool},
            {"is_active": True},
            [{"name": f"uq_{table_prefix}_username", "fields": ["username"], "unique": True}],
        ),
        "Group": ({"name": str}, {}, [{"name": f"uq_{table_prefix}_group", "fields": ["name"], "unique": True}]),
        "Permission": (
            {"codename": str},
            {},
            [{"name": f"uq_{table_prefix}_codename", "fields": ["codename"], "unique": True}],
        ),
        "Membership": (
            {"user_id": int, "group_id": int},
            {},
            [{"name": f"ix_{table_prefix}_member", "fields": ["user_id"]}],
        ),
        "GroupPermission": (
            {"group_id": int, "permission_id": int},
            {},
            [{"name": f"ix_{table_prefix}_grant", "fields": ["group_id", "permission_id"]}],
        ),
    }
    for name, (fields, defaults, indexes) in models.items():
        table = f"{table_prefix}_{name.lower()}s"
        namespace = {"__annotations__": fields, "__tablename__": table, "__dataflow__": {"indexes": indexes}}
        db.model(type(name, (), {**namespace, **defaults}))
    return db


def _workflow(*nodes, connections=()):
    builder = WorkflowBuilder()
    for node_type, node_id, params in nodes:
        builder.add_node(node_type, node_id, params)
    for connection in connections:
        builder.add_connection(*connection)
    return builder.build()


def create_user_workflow(username: str, email: str, password_hash: str):
    return _workflow(("UserCreateNode", "user", {"username": username, "email": email, "password": password_hash}))


def bulk_import_workflow(rows: list[dict], model: str = "User"):
    return _workflow((f"{model}BulkCreateNode", "import", {"data": rows, "batch_size": len(rows)}))


def check_permission_workflow(user_id: int, codename: str):
    """Like Django's has_perm: the user must be active and one of their groups must grant the permission."""
    return _workflow(
        ("UserReadNode", "user", {"id": user_id}),
        ("PermissionListNode", "permission", {"filter": {"codename": codename}, "limit": 1}),
        ("MembershipListNode", "memberships", {"filter": {"user_id": user_id}}),
        ("GrantFilterNode", "grant_filter", {}),
        ("GroupPermissionCountNode", "grants", {}),
        connections=[
            ("memberships", "records", "grant_filter", "memberships"),
            ("permission", "records", "grant_filter", "permissions"),
            ("grant_filter", "filter", "grants", "filter"),
        ],
    )


def list_users_workflow(page: int):
    params = {"order_by": ["id"], "limit": workload.PAGE_SIZE, "offset": page * workload.PAGE_SIZE}
    return _workflow(("UserListNode", "users", params))


def _allowed(results) -> bool:
    return bool(results["user"]["is_active"]) and results["grants"]["count"] > 0


def _page(results) -> list[dict]:
    return [{k: r[k] for k in ("id", "username", "email", "is_active")} for r in results["users"]["records"]]


class DataFlowAuth:
    """The four operations through LocalRuntime (synchronous callers: Locust users, seeding)."""

    def __init__(self, db):
        self.db = db
        self.runtime = _quiet(LocalRuntime(enable_monitoring=False))

    def run(self, workflow) -> dict:
        results, _ = self.runtime.execute(workflow)
        return results

    def create_user(self, username: str, email: str, password: str) -> dict:
        return self.run(create_user_workflow(username, email, hash_password(password)))["user"]

    def bulk_import(self, rows: list[dict], model: str = "User") -> int:
        """One BulkCreateNode; user rows carry already hashed passwords, as an import from another system does."""
        result = self.run(bulk_import_workflow(rows, model))["import"]
        if result.get("inserted") != len(rows) or result.get("success") is False:
            raise RuntimeError(f"bulk import stored {result.get('inserted')} of {len(rows)} {model} rows: {result}")
        return result["inserted"]

    def has_perm(self, user_id: int, codename: str) -> bool:
        return _allowed(self.run(check_permission_workflow(user_id, codename)))

    def list_users(self, page: int) -> list[dict]:
        return _page(self.run(list_users_workflow(page)))

    def seed(self, count: int) -> list[int]:
        """Groups, permissions, grants and `count` users with their memberships; returns the user ids."""
        password_hash = hash_password(workload.PASSWORD)  # one hash for all seeded users: seeding is not measured
        self.bulk_import([{"name": g} for g in workload.GROUPS], model="Group")
        self.bulk_import([{"codename": p} for p in workload.PERMISSIONS], model="Permission")
        group_ids = {r["name"]: r["id"] for r in self._all("Group")}
        permission_ids = {r["codename"]: r["id"] for r in self._all("Permission")}
        grants = [
            {"group_id": group_ids[g], "permission_id": permission_ids[p]}
            for i, g in enumerate(workload.GROUPS)
            for p in workload.granted(i)
        ]
        self.bulk_import(grants, model="GroupPermission")
        for start in range(0, count, workload.BULK_SIZE):
            rows = [
                {**workload.seed_user(i), "password": password_hash}
                for i in range(start, min(count, start + workload.BULK_SIZE))
            ]
            self.bulk_import(rows)
        user_ids = {r["username"]: r["id"] for r in self._all("User")}  # only seeded users exist yet
        ids = [user_ids[workload.seed_user(i)["username"]] for i in range(count)]
        memberships = [
            {"user_id": ids[i], "group_id": group_ids[workload.GROUPS[g]]}
            for i in range(count)
            for g in workload.groups_of(i)
        ]
        for start in range(0, len(memberships), workload.BULK_SIZE):
            self.bulk_import(memberships[start : start + workload.BULK_SIZE], model="Membership")
        return ids

    def _all(self, model: str, filter_spec: dict | None = None) -> list[dict]:
        params = {"filter": filter_spec or {}, "limit": 1_000_000}
        return self.run(_workflow((f"{model}ListNode", "all", params)))["all"]["records"]

    def close(self) -> None:
        self.runtime.close()
        self.db.close()


class AsyncDataFlowAuth:
    """The operations the HTTP app serves, through AsyncLocalRuntime on the server's event loop."""

    def __init__(self, db):
        self.db = db
        self.runtime = _quiet(AsyncLocalRuntime(enable_monitoring=False))

    async def run(self, workflow) -> dict:
        results, _ = await self.runtime.execute_workflow_async(workflow, inputs={})
        return results

    async def create_user(self, username: str, email: str, password: str) -> dict:
        import asyncio

        password_hash = await asyncio.to_thread(hash_password, password)  # bcrypt must not block the event loop
        return (await self.run(create_user_workflow(username, email, password_hash)))["user"]

    async def has_perm(self, user_id: int, codename: str) -> bool:
        return _allowed(await self.run(check_permission_workflow(user_id, codename)))

    async def list_users(self, page: int) -> list[dict]:
        return _page(await self.run(list_users_workflow(page)))
