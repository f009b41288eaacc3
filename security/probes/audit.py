"""Audit trail: every action of the user-management workload leaves exactly one record with actor, action,
target and time; "immutable": altering or deleting a stored record is refused or detected.

Kailash (built in): the runtime's audit (`LocalRuntime(enable_audit=True)`, which writes through
`kailash.nodes.security.AuditLogNode`) over the load tests' DataFlow workload, and the stored audit log
`kailash.nodes.admin.audit_log.EnterpriseAuditLogNode` on PostgreSQL, its schema created by the SDK's own
`kailash.nodes.admin.schema_manager.AdminSchemaManager`. Django: its built-in record, the admin's LogEntry."""

import logging
import uuid

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, UNKNOWN, Finding, package

ACTIONS = ("create_user", "bulk_import", "check_permission", "list_users")


def run(context) -> list[Finding]:
    return [_runtime_audit(context), _stored_audit(context), _django()]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _workflows():
    from harness import dataflow_side as side

    users = [{"username": f"audit-{n}", "email": f"audit-{n}@example.com", "password": "x"} for n in range(3)]
    return {
        "create_user": side.create_user_workflow("audit-first", "audit-first@example.com", "x"),
        "bulk_import": side.bulk_import_workflow(users),
        "check_permission": side.check_permission_workflow(1, "perm_00"),
        "list_users": side.list_users_workflow(0),
    }


def _runtime_audit(context) -> Finding:
    from kailash.access_control import UserContext
    from kailash.runtime.local import LocalRuntime

    from harness.dataflow_side import open_dataflow

    db = open_dataflow("dataflow_reference", f"sqlite:///{context.folder / 'audit.db'}", "audit")
    capture = _Records()
    root = logging.getLogger()
    level, root.level = root.level, logging.DEBUG
    root.addHandler(capture)
    actor = UserContext(user_id="admin-7", tenant_id="acme", email="admin@example.com", roles=["admin"])
    try:
        with LocalRuntime(enable_audit=True, enable_monitoring=False, user_context=actor) as runtime:
            for workflow in _workflows().values():
                runtime.execute(workflow)
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
        db.close()
    audit = [r for r in capture.records if r.name.startswith("audit")]
    failures = sorted({r.getMessage()[:120] for r in capture.records if "Audit logging failed" in r.getMessage()})
    measured = (
        f"{len(audit)} audit records for {len(ACTIONS)} actions ({', '.join(ACTIONS)}); the runtime logged "
        f"{sum('Audit logging failed' in r.getMessage() for r in capture.records)} warnings: {failures}"
    )
    ok = len(audit) == len(ACTIONS)
    reason = "one record per action" if ok else "the actions left no audit record"
    if failures:
        reason += f" (every audit write failed: {failures[0]})"
    component = (
        f"LocalRuntime(enable_audit=True) -> kailash.nodes.security.AuditLogNode ({package('kailash')}, built in)"
    )
    tried = "the load tests' four DataFlow workflows (reference implementation, SQLite) with an actor in user_context"
    return Finding("audit", KAILASH, component, tried, measured, HOLDS if ok else FAILS, reason)


def _stored_audit(context) -> Finding:
    component = f"kailash.nodes.admin.audit_log.EnterpriseAuditLogNode ({package('kailash')}, built in)"
    tried = "AdminSchemaManager.create_full_schema(), then log_event, then UPDATE / DELETE of the stored record"
    if not context.postgresql_url:
        reason = "needs a PostgreSQL server (DFC_POSTGRESQL_URL is not set)"
        return Finding("audit", KAILASH, component, tried, "—", UNKNOWN, reason)
    from kailash.nodes.admin.audit_log import EnterpriseAuditLogNode
    from kailash.nodes.admin.schema_manager import AdminSchemaManager
    from sqlalchemy.engine import make_url

    from harness.databases import scratch_database

    with scratch_database("postgresql", context.folder) as database:
        url = make_url(database.url)
        schema = AdminSchemaManager({"connection_string": database.url, "database_type": "postgresql"})
        tables = schema.create_full_schema()["tables_created"]
        config = {
            "database_type": "postgresql",
            "host": url.host,
            "port": url.port or 5432,
            "database": url.database,
            "user": url.username,
            "password": url.password or "",
        }
        event = {
            "event_type": "user_created",
            "action": "create_user",
            "description": "audit probe",
            "user_id": "admin-7",
            "resource_id": f"user:{uuid.uuid4().hex[:6]}",
        }
        try:
            result = EnterpriseAuditLogNode().execute(operation="log_event", database_config=config, event_data=event)
            stored = f"stored: {result.get('success')}"
        except Exception as exc:  # the documented call fails: that is the result
            stored = f"log_event failed: {str(exc)[:160]}"
    measured = f"the SDK's admin schema created {tables}; {stored}"
    reason = (
        "no record could be stored, so none can be checked for immutability"
        if "failed" in stored
        else "stored; immutability not checked"
    )
    return Finding("audit", KAILASH, component, tried, measured, FAILS if "failed" in stored else UNKNOWN, reason)


def _django() -> Finding:
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import User

    before = LogEntry.objects.count()
    user = User.objects.create_user("audit-django", "audit@example.com", "x")
    User.objects.bulk_create([User(username=f"audit-django-{n}", password="x") for n in range(3)])
    user.has_perm("auth.view_user")
    list(User.objects.order_by("id")[:25])
    entries = LogEntry.objects.count() - before
    measured = (
        f"{entries} LogEntry records for the same four actions through the ORM; LogEntry records what is done "
        "through the admin site only, and its rows can be updated and deleted like any other"
    )
    component = "django.contrib.admin LogEntry (built in); full audit trails need a third-party package"
    tried = "the workload's four actions through django.contrib.auth, then count LogEntry rows"
    reason = "basic, as claimed: the workload's actions leave no record without a third-party package"
    return Finding("audit", DJANGO, component, tried, measured, HOLDS if entries == 0 else FAILS, reason)
