"""PostgreSQL (asyncpg): row-level security for multi-tenant tables, COPY for bulk inserts, reads in
autocommit, instants as TIMESTAMP WITH TIME ZONE, NULL sorted explicitly (it sorts last by default).

Row-level security: the table of a multi-tenant model gets a policy that lets a statement see and write
only rows whose tenant_id equals the transaction-local setting `dataflow.tenant_id` (set by the
implementation for every operation), forced on the table owner too. A bug in query building then still
cannot leak rows (superusers bypass row-level security, so connect as an ordinary role to get this
protection).
"""

import datetime as dt

from sqlalchemy import literal_column, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..model import TENANT_FIELD
from ..tenancy import TENANT_POLICY, TENANT_SETTING
from .base import Dialect, UpsertDialect, UTCDateTime


class AwareDateTime(UTCDateTime):
    """TIMESTAMP WITH TIME ZONE: the instant is bound as an aware UTC datetime."""

    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None or not isinstance(value, dt.datetime):
            return value
        return value.astimezone(dt.timezone.utc)


class PostgreSQLUpsert(UpsertDialect):
    """RETURNING xmax = 0 marks each row the statement inserted (not updated)."""

    returns_inserted = True
    count_existing_for = frozenset()

    def statement(self, table, keys, resolution, changing):
        stmt = pg_insert(table)
        if resolution == "skip":
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        else:
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in changing})
        return stmt.returning(literal_column("xmax = 0").label("inserted"))

    def tally(self, result) -> int:
        return sum(1 for row in result if row.inserted)

    def counts(self, processed, existing, affected, resolution) -> dict:
        other = processed - affected
        if resolution == "skip":
            return {"inserted": affected, "updated": 0, "skipped": other}
        return {"inserted": affected, "updated": other, "skipped": 0}


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    label = "PostgreSQL"
    schemes = ("postgresql", "postgres", "postgresql+asyncpg")
    async_driver = "postgresql+asyncpg"
    identifier_limit = ("bytes", 63)
    row_level_security = True
    nulls_sort_high = True
    bulk_copy = True
    upsert = PostgreSQLUpsert()

    def transaction_options(self, *, write, tenant):
        # A read is one statement: asyncpg switches to autocommit on the client side, with no BEGIN/COMMIT
        # round trips. Row-level security needs a transaction for its transaction-local tenant setting.
        return {"isolation_level": "AUTOCOMMIT"} if not write and tenant is None else {}

    def text_collation(self, server):
        return "C"

    def datetime_type(self):
        return AwareDateTime()

    def has_tenant_policy(self, conn, table) -> bool:
        found = conn.execute(
            text(
                "SELECT c.relrowsecurity AND c.relforcerowsecurity AND EXISTS ("
                " SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy)"
                " FROM pg_class c WHERE c.oid = to_regclass(:table)"
            ),
            {"policy": TENANT_POLICY, "table": conn.dialect.identifier_preparer.format_table(table)},
        ).scalar()
        return bool(found)

    def enable_tenant_policy(self, conn, table) -> None:
        preparer = conn.dialect.identifier_preparer
        name, column = preparer.format_table(table), preparer.quote(TENANT_FIELD)
        matches = f"{column} = current_setting('{TENANT_SETTING}', true)"  # no setting: NULL, so no row
        conn.execute(text(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY"))
        conn.execute(text(f"DROP POLICY IF EXISTS {TENANT_POLICY} ON {name}"))
        conn.execute(text(f"CREATE POLICY {TENANT_POLICY} ON {name} USING ({matches}) WITH CHECK ({matches})"))

    async def bind_tenant(self, conn, tenant: str) -> None:
        # Transaction-local: the setting ends with the transaction, so a pooled connection never
        # carries one tenant's setting into another operation.
        await conn.execute(text("SELECT set_config(:name, :tenant, true)"), {"name": TENANT_SETTING, "tenant": tenant})

    def driver_closed(self, driver) -> bool:
        return driver.is_closed()

    def terminate(self, driver) -> None:
        driver.terminate()

    def is_conflict(self, exc) -> bool:
        orig = getattr(exc, "orig", None)
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return code in ("40001", "40P01")  # serialization failure / deadlock

    def is_integrity_error(self, exc) -> bool:
        sqlstate = getattr(exc, "sqlstate", None)  # asyncpg's own errors, raised by COPY
        return isinstance(sqlstate, str) and sqlstate.startswith("23")

    async def copy_records(self, conn, table, records, columns) -> None:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)
