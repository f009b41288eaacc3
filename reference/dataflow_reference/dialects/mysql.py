"""MySQL and MariaDB (aiomysql): a strict UTC session, utf8mb4 with binary collations, LONGTEXT for text,
DATETIME(6) for instants, and ON DUPLICATE KEY upserts (which fire on any unique key)."""

import re

from sqlalchemy import text
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.schema import CreateColumn

from .base import Dialect, ServerInfo, UpsertDialect, UTCDateTime

SESSION = "SET SESSION sql_mode='TRADITIONAL,NO_AUTO_VALUE_ON_ZERO', time_zone='+00:00'"
# Spellings of one column type that differ between what SQLAlchemy emits and what the server reports.
_SYNONYMS = {"BOOL": "TINYINT", "NUMERIC": "DECIMAL"}
_MARIADB_JSON = "LONGTEXT COLLATE UTF8MB4_BIN"  # MariaDB's JSON is an alias of LONGTEXT with this collation


class MicrosecondDateTime(UTCDateTime):
    """DATETIME(6): UTC wall time with microseconds."""

    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(mysql.DATETIME(fsp=6))


class MySQLUpsert(UpsertDialect):
    """Affected rows are 1 per insert and 2 per update (updated_at always changes); a skipped duplicate
    counts like an insert, so skips are counted beforehand, under a lock."""

    count_existing_for = frozenset({"skip"})
    lock_existing_count = True
    conflicts_on_any_unique_key = True

    def statement(self, table, keys, resolution, changing):
        stmt = mysql_insert(table)
        if resolution == "skip":  # a no-op assignment: 0 affected rows for an existing record
            return stmt.on_duplicate_key_update({keys[0]: table.c[keys[0]]})
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in changing})

    def counts(self, processed, existing, affected, resolution) -> dict:
        if resolution == "skip":
            return {"inserted": processed - existing, "updated": 0, "skipped": existing}
        updated = affected - processed
        return {"inserted": processed - updated, "updated": updated, "skipped": 0}


class MySQLDialect(Dialect):
    name = "mysql"
    label = "MySQL"
    schemes = ("mysql", "mysql+aiomysql", "mariadb", "mariadb+aiomysql")
    async_driver = "mysql+aiomysql"
    identifier_limit = ("characters", 64)
    table_options = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}
    upsert = MySQLUpsert()

    # Reads keep their BEGIN/COMMIT (the default transaction_options): switching aiomysql to autocommit
    # and back would cost two round trips, more than it saves.

    def connect_arguments(self, url):
        return url.update_query_dict({"charset": "utf8mb4"}), {"init_command": SESSION}

    def server_info(self, sync_dialect) -> ServerInfo:
        return ServerInfo(self, mariadb=bool(getattr(sync_dialect, "is_mariadb", False)))

    def text_collation(self, server):
        return "utf8mb4_nopad_bin" if server.mariadb else "utf8mb4_0900_bin"

    def long_text(self, collation):
        return mysql.LONGTEXT(collation=collation)

    def datetime_type(self):
        return MicrosecondDateTime()

    def type_name(self, name, sync_dialect):
        name = re.sub(r"CHARACTER SET \w+ ?", "", name)
        name = re.sub(r"^(BIGINT|INTEGER|INT|TINYINT|SMALLINT)\(\d+\)", r"\1", name)  # display widths
        if getattr(sync_dialect, "is_mariadb", False) and name == _MARIADB_JSON:
            return "JSON"
        head, _, rest = name.partition("(")
        return _SYNONYMS.get(head, head) + (f"({rest}" if rest else "")

    def require_not_null(self, conn, table, column) -> None:
        name = conn.dialect.identifier_preparer.format_table(table)
        conn.execute(text(f"ALTER TABLE {name} MODIFY COLUMN {CreateColumn(column).compile(dialect=conn.dialect)}"))

    def driver_closed(self, driver) -> bool:
        return bool(driver.closed)

    def is_conflict(self, exc) -> bool:
        args = getattr(getattr(exc, "orig", None), "args", ())
        return bool(args) and args[0] in (1205, 1213)  # lock wait timeout / deadlock
