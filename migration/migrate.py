"""Copy Django's auth tables into the DataFlow models: only rows that are missing or differ are written,
so a second run changes nothing and an interrupted run resumes where it stopped (each batch is one
BulkCreateNode, stored whole or not at all; `django_id` is unique, so nothing is stored twice)."""

from dataclasses import dataclass, field

from . import passwords
from .databases import connect, source_rows
from .schema import BY_NAME, TABLES
from .target import Target, open_target


@dataclass
class TableResult:
    source: int = 0
    inserted: int = 0
    updated: list = field(default_factory=list)  # Django ids of rows rewritten from the source
    extra: list = field(default_factory=list)  # Django ids in the target that the source no longer has


class UnverifiableHashes(ValueError):
    """Users whose password hash the DataFlow side could not verify: migrating them would lock them out."""


def read_source(source_url: str) -> dict[str, dict[int, tuple]]:
    with connect(source_url) as connection:
        return {table.name: source_rows(connection, table) for table in TABLES}


def check_hashes(users: dict[int, tuple]) -> None:
    column = BY_NAME["users"].columns.index("password")
    bad = {key: passwords.algorithm(row[column]) for key, row in users.items() if not passwords.supported(row[column])}
    if bad:
        listed = ", ".join(f"user {key} ({name})" for key, name in sorted(bad.items()))
        raise UnverifiableHashes(f"{len(bad)} password hashes in formats the DataFlow side cannot verify: {listed}")


def migrate(source_url: str, module: str, target_url: str, prefix: str, batch_size: int = 500, log=print) -> dict:
    """Migrate every table; returns {table name: TableResult}. Nothing is written when a hash is unverifiable."""
    source = read_source(source_url)
    check_hashes(source["users"])
    target = Target(open_target(module, target_url, prefix))
    results = {}
    try:
        for table in TABLES:  # parents first: permissions, groups, users, then the rows that link them
            rows, stored = source[table.name], target.rows(table)
            result = results[table.name] = TableResult(source=len(rows))
            missing = [row for key, row in sorted(rows.items()) if key not in stored]
            for start in range(0, len(missing), batch_size):
                result.inserted += target.create(table, missing[start : start + batch_size])
                log(f"{table.name}: stored {result.inserted} of {len(missing)} missing rows", flush=True)
            for key, row in sorted(rows.items()):
                if key in stored and stored[key][1] != row:
                    target.update(table, stored[key][0], row)
                    result.updated.append(key)
            result.extra = sorted(set(stored) - set(rows))
    finally:
        target.close()
    return results
