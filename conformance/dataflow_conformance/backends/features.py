"""What the kit knows about each database backend, as values (in the spirit of Django's
`DatabaseFeatures`): tests and fixtures read these instead of comparing backend names."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Features:
    name: str  # "sqlite" | "postgresql" | "mysql": the name --dataflow-db and reports use
    url_schemes: tuple[str, ...]  # the documented DataFlow URL schemes of this backend (CONF-003)
    probe_driver: str  # SQLAlchemy driver of the kit's independent connection (never the implementation's)
    server: bool = True  # False: an embedded database in a file (each test gets its own)
    environment_variable: str | None = None  # where a URL for the run can be configured
    container_image: str | None = None  # what testcontainers starts when no URL is configured
    default_port: int | None = None
    identifier_limit: int | None = None  # longest table / column name the database accepts (None: no limit)
    # SQL listing the ids of the other sessions connected to the current database.
    sessions_sql: str | None = None
    busy_sessions_filter: str = ""  # appended to sessions_sql: only sessions running a statement
    end_session_sql: str | None = None  # ends the session `:session`
    json_text_type: str = "TEXT"  # CAST(json_column AS ...) reads a JSON document as the text stored
    row_level_security: bool = False  # the database can enforce tenant isolation itself (TENANT-008)

    @property
    def scheme(self) -> str:
        """The plain scheme of URLs given to implementations."""
        return self.url_schemes[0]

    def count_sessions_sql(self, *, busy: bool = False) -> str:
        return f"SELECT count(*) FROM ({self.sessions_sql}{self.busy_sessions_filter if busy else ''}) AS sessions"


SQLITE = Features(
    name="sqlite",
    url_schemes=("sqlite",),
    probe_driver="sqlite",
    server=False,
)

POSTGRESQL = Features(
    name="postgresql",
    url_schemes=("postgresql", "postgres", "postgresql+asyncpg"),
    probe_driver="postgresql+psycopg",
    environment_variable="DFC_POSTGRESQL_URL",
    container_image="postgres:16",
    default_port=5432,
    identifier_limit=63,
    sessions_sql="SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    busy_sessions_filter=" AND state <> 'idle'",
    end_session_sql="SELECT pg_terminate_backend(:session)",
    row_level_security=True,
)

MYSQL = Features(
    name="mysql",
    url_schemes=("mysql", "mysql+aiomysql", "mariadb"),
    probe_driver="mysql+pymysql",
    environment_variable="DFC_MYSQL_URL",
    container_image="mysql:8.4",
    default_port=3306,
    identifier_limit=64,
    sessions_sql="SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
    busy_sessions_filter=" AND COMMAND <> 'Sleep'",
    end_session_sql="KILL :session",
    json_text_type="CHAR",
)

FEATURES = {features.name: features for features in (SQLITE, POSTGRESQL, MYSQL)}
BACKENDS = tuple(FEATURES)
SERVERS = tuple(name for name, features in FEATURES.items() if features.server)


def backend_of_scheme(scheme: str) -> str | None:
    """The backend a URL scheme (with or without a driver suffix) belongs to."""
    base = scheme.lower().split("+", 1)[0]
    for features in FEATURES.values():
        if base in {s.split("+", 1)[0] for s in features.url_schemes}:
            return features.name
    return None
