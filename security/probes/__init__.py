"""One module per claim; each `run(context)` returns the Findings of both sides."""

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Context:
    folder: Path  # scratch space of this run (Django's SQLite database, the HTTP apps' database)
    postgresql_url: str | None  # DFC_POSTGRESQL_URL, for the components that need a PostgreSQL server
