"""The backends the reference runs on, one dialect each (base.py holds the defaults and says why)."""

from .base import RESOLUTIONS, Dialect, ServerInfo, UpsertDialect
from .mysql import MySQLDialect
from .postgresql import PostgreSQLDialect
from .sqlite import SQLiteDialect

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLiteDialect(), PostgreSQLDialect(), MySQLDialect())}
BY_SCHEME: dict[str, Dialect] = {scheme: d for d in DIALECTS.values() for scheme in d.schemes}

__all__ = ["BY_SCHEME", "DIALECTS", "RESOLUTIONS", "Dialect", "ServerInfo", "UpsertDialect"]
