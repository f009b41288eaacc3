"""Multi-tenancy: registered tenants and the tenant bound to the current context.

`db.tenant_context.switch("acme")` (or `aswitch` in async code) binds a tenant for the code inside
it. The binding is a context variable, so concurrent tasks and threads each see their own tenant.
Nodes and express calls read it where the caller runs and pass it to the operation, which may run
on the caller's loop or on the instance's home loop (see runner.py). Operations on a multi-tenant
model read the tenant through `CURRENT_TENANT` (set per operation by DataFlow.call_store) and fail
closed without one.
"""

import contextlib
import contextvars
from dataclasses import dataclass, field

from .errors import TenantError

# The tenant of the running operation (set per operation, like transactions.CURRENT).
CURRENT_TENANT = contextvars.ContextVar("dataflow_reference_operation_tenant", default=None)
MAX_TENANT_ID_LENGTH = 255  # the tenant_id column is VARCHAR(255)
# Where the server enforces isolation itself (row-level security, see dialects/): the policy on each
# multi-tenant table, and the transaction-local setting that names the operation's tenant.
TENANT_POLICY = "dataflow_tenant_isolation"
TENANT_SETTING = "dataflow.tenant_id"


@dataclass(frozen=True)
class TenantInfo:
    tenant_id: str
    name: str
    metadata: dict = field(default_factory=dict)


class TenantContext:
    def __init__(self, owner: str):
        self._tenants: dict[str, TenantInfo] = {}
        self._bound = contextvars.ContextVar(f"dataflow_reference_tenant_{owner}", default=None)

    def register_tenant(self, tenant_id: str, name: str, metadata: dict | None = None) -> TenantInfo:
        if not isinstance(tenant_id, str) or not tenant_id.strip() or "\x00" in tenant_id:
            raise TenantError(f"tenant_id must be a non-empty string, got {tenant_id!r}")
        if len(tenant_id) > MAX_TENANT_ID_LENGTH:
            raise TenantError(f"tenant_id {tenant_id[:20]!r}... is longer than {MAX_TENANT_ID_LENGTH} characters")
        if tenant_id in self._tenants:
            raise TenantError(f"tenant {tenant_id!r} is already registered")
        info = TenantInfo(tenant_id, name, dict(metadata or {}))
        self._tenants[tenant_id] = info
        return info

    def get_tenant(self, tenant_id: str) -> TenantInfo | None:
        return self._tenants.get(tenant_id)

    def list_tenants(self) -> list[TenantInfo]:
        return list(self._tenants.values())

    def get_current_tenant(self) -> str | None:
        return self._bound.get()

    @contextlib.contextmanager
    def switch(self, tenant_id: str):
        token = self._bound.set(self._registered(tenant_id))
        try:
            yield self._tenants[tenant_id]
        finally:
            self._bound.reset(token)

    @contextlib.asynccontextmanager
    async def aswitch(self, tenant_id: str):
        with self.switch(tenant_id) as info:
            yield info

    def _registered(self, tenant_id) -> str:
        if not isinstance(tenant_id, str) or tenant_id not in self._tenants:
            known = sorted(self._tenants) or "none yet"
            raise TenantError(
                f"tenant {tenant_id!r} is not registered (registered: {known}); call register_tenant first"
            )
        return tenant_id


def require_tenant(model_name: str) -> str:
    """The tenant of the running operation on a multi-tenant model; fails closed when none is bound."""
    tenant = CURRENT_TENANT.get()
    if tenant is None:
        raise TenantError(
            f"{model_name} is multi-tenant and no tenant is bound: run the operation inside "
            "db.tenant_context.switch(tenant_id) (or `async with db.tenant_context.aswitch(tenant_id)`)"
        )
    return tenant
