"""What one database backend does its own way, behind one base class (as Django's
`db/backends/base/` and SQLAlchemy's `dialects/`): the defaults live here, a backend's module overrides what
it does differently, and the rest of the reference asks its dialect instead of comparing backend names.

Features are attributes with values; behaviour that differs is a method. The SQLAlchemy dialect still
compiles the SQL; this class holds what SQLAlchemy leaves to the application: URL forms, engine and session
set-up, column types that keep values exact, locking and isolation, row-level security, upsert statements
and how a driver's errors and connections are read. Statements run on the raw driver (compiled once) would
be one more method per dialect here, next to `copy_records`.
"""

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Double, Numeric, String, Text, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.types import TypeDecorator

from ..fieldtypes import DECIMAL_PRECISION, DECIMAL_SCALE, INDEXED_STR_LENGTH


class UTCDateTime(TypeDecorator):
    """An instant: aware datetimes in, aware UTC datetimes out, microseconds kept; stored as UTC wall time
    where the column type has no time zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or not isinstance(value, dt.datetime):
            return value
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class ExactDecimal(TypeDecorator):
    """NUMERIC(30, 10): 20 integer digits and 10 fractional digits, read back as Decimal."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(Numeric(DECIMAL_PRECISION, DECIMAL_SCALE, asdecimal=True))

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class ServerInfo:
    """What the schema builder needs to know about the connected server (Dialect.server_info)."""

    def __init__(self, dialect: "Dialect", *, mariadb: bool = False):
        self.dialect = dialect
        self.mariadb = mariadb

    @property
    def backend(self) -> str:
        return self.dialect.name

    @property
    def text_collation(self) -> str | None:
        return self.dialect.text_collation(self)


RESOLUTIONS = ("update", "skip")  # what a bulk upsert does with a record whose key exists


class UpsertDialect:
    """How one database writes a batch of upserts and tells inserted from updated records (bulk.py)."""

    returns_inserted = False  # the statement's RETURNING marks each inserted row (else: affected rows)

    # Records whose key already exists, counted beforehand where the server's own result cannot tell.
    count_existing_for = frozenset(RESOLUTIONS)
    lock_existing_count = False  # the count must lock the rows it saw (they decide the skips)
    # ON CONFLICT names its conflict target; MySQL's ON DUPLICATE KEY fires on any unique key.
    conflicts_on_any_unique_key = False

    def statement(self, table, keys, resolution, changing):
        """INSERT ... that updates the `changing` columns (or skips, by `resolution`) of a row whose `keys` exist."""
        raise NotImplementedError

    def tally(self, result) -> int:
        return max(result.rowcount, 0)

    def counts(self, processed, existing, affected, resolution) -> dict:
        if resolution == "skip":
            return {"inserted": processed - existing, "updated": 0, "skipped": existing}
        return {"inserted": processed - existing, "updated": existing, "skipped": 0}


class Dialect:
    name: str = ""  # what DataFlow.backend and health_check() report
    label: str = ""  # the backend's name in messages
    # URL schemes DataFlow accepts for this backend, and the SQLAlchemy async driver it connects with.
    schemes: tuple[str, ...] = ()
    async_driver: str = ""
    server = True  # a server: URLs name a host and a database, connections count against a limit
    single_writer = False  # one writer at a time: the instance serialises writes across its loops
    loop_bound = True  # a driver connection works only on the event loop that opened it
    # Longest identifier the server keeps without truncating it, as (unit, length); None: no limit.
    identifier_limit: tuple[str, int] | None = None
    row_level_security = False  # the server enforces tenant isolation itself (a policy per table)
    nulls_sort_high = False  # NULL sorts after every value unless the ORDER BY says otherwise
    # Bind parameters per statement the bulk writes stay under (below every backend's own limit).
    max_bind_parameters = 32_000
    bulk_copy = False  # the driver loads rows with a COPY protocol (copy_records)
    upsert: UpsertDialect  # how its bulk upserts are written and counted
    version_query = "select version()"
    table_options: dict = {}  # SQLAlchemy table keyword arguments (the storage engine, the charset)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- URLs ------------------------------------------------------------------------------------

    def check_url(self, url, shown: str) -> str | None:
        """Why `url` (a SQLAlchemy URL; `shown` is its text without the password) cannot be used, or None."""
        if not url.host:
            return f"database URL {shown!r} names no host"
        if not url.database:
            return f"database URL {shown!r} names no database"
        if url.port is not None and not 0 < url.port < 65536:
            return f"database URL {shown!r}: port {url.port} is out of range"
        return None

    def is_memory(self, url) -> bool:
        """Whether the database lives in this process's memory only (one shared connection)."""
        return False

    # -- engine and sessions --------------------------------------------------------------------

    def connect_arguments(self, url):
        """(the URL, the driver's connect arguments) of an engine."""
        return url, {}

    def configure_engine(self, engine, *, in_memory: bool) -> None:
        """Event listeners of a new engine. Servers: a connection the server closed counts as lost."""
        _detect_closed_connections(engine, self)

    def server_info(self, sync_dialect) -> ServerInfo:
        """The connected server, from SQLAlchemy's dialect after the first connect."""
        return ServerInfo(self)

    def transaction_options(self, *, write: bool, tenant: str | None) -> dict:
        """Execution options of a connection before its transaction begins."""
        return {}

    # -- column types ---------------------------------------------------------------------------

    def text_collation(self, server: ServerInfo) -> str | None:
        """Code-point order and exact (case- and trailing-space-sensitive) comparison on every backend,
        so filters and sorting mean the same thing everywhere."""
        return None

    def column_type(self, kind: str, *, indexed: bool, server: ServerInfo):
        """The SQLAlchemy type of a field of `kind`."""
        if kind == "str":
            if indexed:
                return String(INDEXED_STR_LENGTH, collation=server.text_collation)
            return self.long_text(server.text_collation)
        return {
            "int": BigInteger,
            "float": Double,
            "bool": lambda: Boolean(create_constraint=False),
            "datetime": self.datetime_type,
            "date": Date,
            "decimal": self.decimal_type,
            "dict": lambda: JSON(none_as_null=True),
            "list": lambda: JSON(none_as_null=True),
        }[kind]()

    def long_text(self, collation: str | None):
        return Text(collation=collation)

    def datetime_type(self):
        return UTCDateTime()

    def decimal_type(self):
        return ExactDecimal()

    def generated_id_type(self):
        """The type of an id the database generates."""
        return BigInteger()

    # -- queries --------------------------------------------------------------------------------

    def comparable(self, column, kind: str):
        """The expression that compares and sorts a column of `kind` by its value."""
        return column

    def comparable_value(self, kind: str, value):
        """A value compared with `comparable(column, kind)`."""
        return value

    # -- schema ---------------------------------------------------------------------------------

    def type_name(self, name: str, sync_dialect) -> str:
        """A column type's name as compiled (upper case) in the one spelling both SQLAlchemy and the
        server's reflection give it."""
        return name

    def require_not_null(self, conn, table, column) -> None:
        """Make a column that was added as nullable NOT NULL (`conn`: a synchronous connection)."""
        preparer = conn.dialect.identifier_preparer
        name = preparer.format_table(table)
        conn.execute(text(f"ALTER TABLE {name} ALTER COLUMN {preparer.quote(column.name)} SET NOT NULL"))

    # Row-level security (where `row_level_security` is set): the tenant policy of a multi-tenant model's
    # table, and the tenant of each transaction.

    def has_tenant_policy(self, conn, table) -> bool:
        raise NotImplementedError(f"{self.name} has no row-level security")

    def enable_tenant_policy(self, conn, table) -> None:
        raise NotImplementedError(f"{self.name} has no row-level security")

    async def bind_tenant(self, conn, tenant: str) -> None:
        raise NotImplementedError(f"{self.name} has no row-level security")

    # -- drivers and errors ---------------------------------------------------------------------

    def driver_closed(self, driver) -> bool:
        """Whether the driver's connection knows it is closed (without a round trip)."""
        return False

    def terminate(self, driver) -> None:
        """Cut the driver's connection at once, without waiting for the server."""
        driver.close()

    def is_conflict(self, exc) -> bool:
        """Whether a DBAPIError is the server breaking a deadlock or a serialisation conflict."""
        return False

    def is_integrity_error(self, exc) -> bool:
        """Whether a driver's own error (raised outside SQLAlchemy) is a constraint violation."""
        return False

    async def copy_records(self, conn, table, records, columns) -> None:
        raise NotImplementedError(f"{self.name} has no COPY")


def _detect_closed_connections(engine, dialect: Dialect) -> None:
    """Treat a connection the server has closed (a killed session, a network failure) as lost.

    Without a round trip per checkout (no pre-ping): a pooled connection the driver already knows
    is closed is replaced at checkout, and an error on a closed connection counts as a disconnect,
    so SQLAlchemy discards it (and the pool's other connections of that age) instead of reusing it.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def replace_closed(dbapi_connection, _record, _proxy):
        if dialect.driver_closed(dbapi_connection.driver_connection):
            raise sa_exc.DisconnectionError("the server closed this pooled connection")

    @event.listens_for(engine.sync_engine, "handle_error")
    def closed_is_disconnect(context):
        try:
            driver = context.connection.connection.driver_connection
        except Exception:  # no connection, or it is already invalidated
            return
        if dialect.driver_closed(driver):
            context.is_disconnect = True
