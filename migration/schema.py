"""The six tables both sides hold, in one canonical row form, so that a row read from Django's tables and a
row read from DataFlow's compare (and checksum) equal exactly when their content is equal.

The DataFlow side keeps Django's primary keys in `django_id` (unique) and refers to users, groups and
permissions by those keys: during a side-by-side period a row in one system names the same row in the other.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Optional


@dataclass(frozen=True)
class Table:
    name: str  # the kit's name for the table (reports, CLI)
    model: str  # the DataFlow model
    source_sql: str  # Django's rows, columns in `fields` order after the key
    fields: dict  # DataFlow field -> Python type, after django_id

    @property
    def columns(self) -> tuple[str, ...]:
        return ("django_id", *self.fields)


TABLES = (
    Table(
        "permissions",
        "AuthPermission",
        "SELECT p.id, ct.app_label, p.codename, p.name FROM auth_permission p "
        "JOIN django_content_type ct ON ct.id = p.content_type_id",
        {"app_label": str, "codename": str, "name": str},
    ),
    Table("groups", "AuthGroup", "SELECT id, name FROM auth_group", {"name": str}),
    Table(
        "users",
        "AuthUser",
        "SELECT id, username, email, first_name, last_name, password, is_active, is_staff, is_superuser, "
        "last_login, date_joined FROM auth_user",
        {
            "username": str,
            "email": str,
            "first_name": str,
            "last_name": str,
            "password": str,  # Django's encoded hash, kept byte for byte (see migration/passwords.py)
            "is_active": bool,
            "is_staff": bool,
            "is_superuser": bool,
            "last_login": Optional[datetime],  # noqa: UP045 (DataFlow implementations read typing.Optional)
            "date_joined": datetime,
        },
    ),
    Table(
        "memberships",
        "AuthMembership",
        "SELECT id, user_id, group_id FROM auth_user_groups",
        {"user_django_id": int, "group_django_id": int},
    ),
    Table(
        "group_grants",
        "AuthGroupGrant",
        "SELECT id, group_id, permission_id FROM auth_group_permissions",
        {"group_django_id": int, "permission_django_id": int},
    ),
    Table(
        "user_grants",
        "AuthUserGrant",
        "SELECT id, user_id, permission_id FROM auth_user_user_permissions",
        {"user_django_id": int, "permission_django_id": int},
    ),
)
BY_NAME = {table.name: table for table in TABLES}


def canonical(table: Table, values) -> tuple:
    """One row as a tuple of plain values in `table.columns` order (datetimes as UTC ISO text)."""
    out = []
    for column, value in zip(table.columns, values, strict=True):
        kind = table.fields.get(column, int)
        out.append(_value(kind, value))
    return tuple(out)


def _value(kind, value):
    if value is None:
        return None
    if kind in (datetime, Optional[datetime]):  # noqa: UP045
        if isinstance(value, str):  # SQLite keeps datetimes as text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:  # Django (USE_TZ) and DataFlow store UTC; naive values are UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if kind is bool:
        return bool(value)
    if kind is int:
        return int(value)
    return str(value)
