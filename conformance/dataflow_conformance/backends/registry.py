"""Every database backend the project knows, in one table (in the spirit of Django's `DatabaseFeatures`
and SQLAlchemy's `testing/provision.py`): its name and report label, the URL forms DataFlow documents, the
kit's own driver, where a run finds a server, how the kit provisions databases there, and what the suite
needs to know of it, as values. Everything that differs between backends is read from here, by the
pytest options, resolution, provisioning, the probe, the reports, the load tests and the comparisons'
shared harness; nothing compares backend names.

Adding a backend is one entry in REGISTRY (docs/guide/architecture.md lists the files that change).
Pure data: the pytest options read this module without importing SQLAlchemy.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Provisioning:
    """The SQL with which the kit owns databases on a server: `{name}` is a database's name."""

    create: str  # creates the database `{name}`
    drop: str  # drops it, whoever is still connected
    # Leaves the connected database without tables. With `list_tables`, the statements run only when that
    # query finds tables, `{tables}` standing for their quoted names (`quote`) separated by commas.
    empty: tuple[str, ...]
    list_tables: str | None = None
    quote: str = '"{}"'


@dataclass(frozen=True)
class Container:
    """What testcontainers starts when a run asks for the backend and names no server."""

    image: str
    module: str  # testcontainers.<module>
    class_name: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BackendSpec:
    name: str  # what --dataflow-db, reports and expectations files call it
    label: str  # how reports and messages name it
    url_schemes: tuple[str, ...]  # the documented DataFlow URL schemes of this backend (CONF-003)
    probe_driver: str  # SQLAlchemy driver of the kit's independent connections (never the implementation's)
    # The probe driver's connect arguments for a server on this machine when the URL names no TLS option.
    loopback_connect_args: dict = field(default_factory=dict)
    server: bool = True  # False: an embedded database in a file (each test gets its own)
    environment_variable: str | None = None  # where a URL for the run can be configured
    container: Container | None = None  # what testcontainers starts when no URL is configured
    provisioning: Provisioning | None = None  # how the kit creates, empties and drops its databases
    default_port: int | None = None
    identifier_limit: int | None = None  # longest table / column name the database accepts (None: no limit)
    # SQL listing the ids of the other sessions connected to the current database.
    sessions_sql: str | None = None
    busy_sessions_filter: str = ""  # appended to sessions_sql: only sessions running a statement
    end_session_sql: str | None = None  # ends the session `:session`
    lock_waits_sql: str | None = None  # counts the other sessions of the current database waiting for a lock
    json_text_type: str = "TEXT"  # CAST(json_column AS ...) reads a JSON document as the text stored
    # The columns of table `:table` with their types, in order: one cheap query that tells whether a table the
    # probe reflected earlier has changed since.
    columns_sql: str = 'SELECT name, type, "notnull", pk FROM pragma_table_info(:table)'
    row_level_security: bool = False  # the database can enforce tenant isolation itself (TENANT-008)
    # The Django baseline of the comparisons on this backend (harness/django_side): ENGINE and OPTIONS.
    django_engine: str = ""
    django_options: dict = field(default_factory=dict)
    django_prepare: str = ""  # "module:function" to call before Django loads the engine

    @property
    def scheme(self) -> str:
        """The plain scheme of URLs given to implementations."""
        return self.url_schemes[0]

    def count_sessions_sql(self, *, busy: bool = False) -> str:
        return f"SELECT count(*) FROM ({self.sessions_sql}{self.busy_sessions_filter if busy else ''}) AS sessions"


REGISTRY = (
    BackendSpec(
        name="sqlite",
        label="SQLite",
        url_schemes=("sqlite",),
        probe_driver="sqlite",
        server=False,
        django_engine="django.db.backends.sqlite3",
        # Django's documented SQLite settings for concurrent use: WAL and BEGIN IMMEDIATE (as the reference does).
        django_options={"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 30},
    ),
    BackendSpec(
        name="postgresql",
        label="PostgreSQL",
        url_schemes=("postgresql", "postgres", "postgresql+asyncpg"),
        probe_driver="postgresql+psycopg",
        environment_variable="DFC_POSTGRESQL_URL",
        container=Container("postgres:16", "postgres", "PostgresContainer", {"driver": None}),
        provisioning=Provisioning(
            create='CREATE DATABASE "{name}"',
            drop='DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            empty=("DROP SCHEMA IF EXISTS public CASCADE", "CREATE SCHEMA public"),
        ),
        default_port=5432,
        identifier_limit=63,
        sessions_sql="SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        columns_sql="SELECT attname, format_type(atttypid, atttypmod), attnotnull, EXISTS (SELECT FROM pg_index "
        "WHERE indrelid = attrelid AND indisprimary AND attnum = ANY (indkey)) FROM pg_attribute "
        "WHERE attrelid = to_regclass(quote_ident(:table)) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        busy_sessions_filter=" AND state <> 'idle'",
        end_session_sql="SELECT pg_terminate_backend(:session)",
        lock_waits_sql="SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'",
        row_level_security=True,
        django_engine="django.db.backends.postgresql",
    ),
    BackendSpec(
        name="mysql",
        label="MySQL",
        url_schemes=("mysql", "mysql+aiomysql", "mariadb"),
        probe_driver="mysql+pymysql",
        # PyMySQL tries TLS unless told not to, and loads the system's CA store for it on every connection
        # (1 ms per connection without it, 80 ms with it on a busy machine), even when the server has no TLS.
        loopback_connect_args={"ssl_disabled": True},
        environment_variable="DFC_MYSQL_URL",
        container=Container("mysql:8.4", "mysql", "MySqlContainer"),
        provisioning=Provisioning(
            create="CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
            drop="DROP DATABASE IF EXISTS `{name}`",
            empty=("SET FOREIGN_KEY_CHECKS = 0", "DROP TABLE {tables}", "SET FOREIGN_KEY_CHECKS = 1"),
            list_tables="SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
            quote="`{}`",
        ),
        default_port=3306,
        identifier_limit=64,
        sessions_sql="SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
        columns_sql="SELECT column_name, column_type, is_nullable, column_key FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = :table ORDER BY ordinal_position",
        busy_sessions_filter=" AND COMMAND <> 'Sleep'",
        end_session_sql="KILL :session",
        # A statement running for a second or more: MariaDB's INNODB_TRX does not say LOCK WAIT for a SELECT ...
        # FOR UPDATE that waits while it is planned (state Statistics), and nothing else runs that long there.
        lock_waits_sql="SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
        "AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND TIME >= 1",
        json_text_type="CHAR",
        django_engine="django.db.backends.mysql",
        django_options={"charset": "utf8mb4"},
        django_prepare="pymysql:install_as_MySQLdb",  # Django's MySQL backend accepts PyMySQL for mysqlclient
    ),
)

BY_NAME = {spec.name: spec for spec in REGISTRY}
BACKENDS = tuple(BY_NAME)  # every backend's name, in the registry's order
SERVERS = tuple(spec.name for spec in REGISTRY if spec.server)
EMBEDDED = next(spec.name for spec in REGISTRY if not spec.server)  # always there: the run's default


def names() -> tuple[str, ...]:
    """Every backend's name, in the registry's order."""
    return BACKENDS


def get(name: str) -> BackendSpec:
    """The entry of a backend by name; the error lists the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None


def backend_of_scheme(scheme: str) -> str | None:
    """The backend a URL scheme (with or without a driver suffix) belongs to."""
    base = scheme.lower().split("+", 1)[0]
    for spec in REGISTRY:
        if base in {s.split("+", 1)[0] for s in spec.url_schemes}:
            return spec.name
    return None
