"""Compare both sides answer by answer: row counts and a content checksum per table (naming every row
that differs), and Django's `has_perm` against the DataFlow permission check for every (user, permission)
pair of the source."""

import hashlib
import json
from dataclasses import dataclass, field

from .databases import connect, source_rows, target_rows
from .schema import TABLES
from .target import Target, open_target


@dataclass
class TableCheck:
    name: str
    source_count: int
    target_count: int
    source_checksum: str
    target_checksum: str
    missing: list = field(default_factory=list)  # Django ids in the source only
    extra: list = field(default_factory=list)  # Django ids in the target only
    different: list = field(default_factory=list)  # Django ids whose content differs
    examples: dict = field(default_factory=dict)  # a few differing rows: {id: {column: (Django, DataFlow)}}

    @property
    def ok(self) -> bool:
        return self.source_checksum == self.target_checksum and self.source_count == self.target_count


@dataclass
class Report:
    tables: list[TableCheck]
    pairs: int = 0
    disagreements: list = field(default_factory=list)  # (user Django id, permission, Django, DataFlow)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables) and not self.disagreements

    def failures(self) -> list[str]:
        lines = []
        for t in self.tables:
            if not t.ok:
                lines.append(
                    f"{t.name}: {t.source_count} rows in Django, {t.target_count} in DataFlow; checksums "
                    f"{t.source_checksum[:12]} vs {t.target_checksum[:12]}; missing {_ids(t.missing)}, extra "
                    f"{_ids(t.extra)}, different {_ids(t.different)}; e.g. {t.examples}"
                )
        lines += [f"user {u} {perm}: Django has_perm {d}, DataFlow {f}" for u, perm, d, f in self.disagreements]
        return lines


def _ids(ids: list) -> str:
    """Django ids, all of them when few (the rows a difference names), else the first ones and the count."""
    return str(ids) if len(ids) <= 12 else f"{ids[:8]} ... ({len(ids)} rows)"


def checksum(rows: dict[int, tuple]) -> str:
    digest = hashlib.sha256()
    for key in sorted(rows):
        digest.update(json.dumps(rows[key]).encode() + b"\n")
    return digest.hexdigest()


def compare_tables(source_url: str, target_url: str, prefix: str) -> list[TableCheck]:
    checks = []
    with connect(source_url) as source, connect(target_url) as target:
        for table in TABLES:
            mine, theirs = source_rows(source, table), target_rows(target, table, prefix)
            different = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
            examples = {
                key: {c: (a, b) for c, a, b in zip(table.columns, mine[key], theirs[key], strict=True) if a != b}
                for key in different[:3]
            }
            checks.append(
                TableCheck(
                    table.name,
                    len(mine),
                    len(theirs),
                    checksum(mine),
                    checksum(theirs),
                    missing=sorted(set(mine) - set(theirs)),
                    extra=sorted(set(theirs) - set(mine)),
                    different=different,
                    examples=examples,
                )
            )
    return checks


def compare_permissions(django_answers: dict, module: str, target_url: str, prefix: str) -> tuple[int, list]:
    """`django_answers`: {"<user id> <app_label.codename>": bool} from Django's own has_perm."""
    target = Target(open_target(module, target_url, prefix))
    disagreements = []
    try:
        granted = {}  # the DataFlow permission set of each user, read once
        for pair, expected in sorted(django_answers.items()):
            user, perm = pair.split(" ", 1)
            if user not in granted:
                granted[user] = target.permissions(int(user))
            answer = perm in granted[user]
            if answer != expected:
                disagreements.append((int(user), perm, expected, answer))
    finally:
        target.close()
    return len(django_answers), disagreements


def verify(source_url: str, module: str, target_url: str, prefix: str, django_answers: dict) -> Report:
    report = Report(compare_tables(source_url, target_url, prefix))
    report.pairs, report.disagreements = compare_permissions(django_answers, module, target_url, prefix)
    return report
