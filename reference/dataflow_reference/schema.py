"""Schema management: compare each model's table with the database and plan what to do.

Safe changes are applied when `auto_migrate=True`: a missing table is created, a new column that
is Optional or has a default is added (existing rows get the default), a declared index that is
missing is created. Anything else (a column whose type changed, a field that became required while
rows hold NULL, a new required field without a default, a column that became Optional) is refused
with an error naming the table, the column and the change, before any DDL runs. With
`auto_migrate=False` nothing is changed and any difference is reported on first use.

Where the dialect has row-level security, the table of a multi-tenant model also gets the tenant
policy (dialects/postgresql.py says what it does).

Everything here is synchronous SQLAlchemy (called through `AsyncConnection.run_sync`).
"""

from dataclasses import dataclass, field

from sqlalchemy import Column, Table, inspect, select, text, update
from sqlalchemy.schema import CreateColumn, CreateIndex

from .errors import SchemaError
from .model import ModelSpec
from .tenancy import TENANT_POLICY


@dataclass
class SchemaPlan:
    create_tables: list[Table] = field(default_factory=list)
    add_columns: list[tuple[Table, Column, object]] = field(default_factory=list)  # table, column, default
    create_indexes: list = field(default_factory=list)
    row_security: list[Table] = field(default_factory=list)  # tables that need the tenant policy
    problems: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[str]:
        return (
            [f"table {t.name!r} does not exist" for t in self.create_tables]
            + [f"table {t.name!r} has no column {c.name!r}" for t, c, _ in self.add_columns]
            + [f"table {ix.table.name!r} has no index {ix.name!r}" for ix in self.create_indexes]
            + [f"table {t.name!r} has no row-level security policy {TENANT_POLICY!r}" for t in self.row_security]
        )


def plan_schema(conn, models: list[tuple[ModelSpec, Table]], dialect) -> SchemaPlan:
    """Compare every model's table with the database (`conn` is a synchronous Connection; `dialect` the
    backend's, dialects.Dialect)."""
    plan = SchemaPlan()
    inspector = inspect(conn)
    existing_tables = set(inspector.get_table_names())
    for spec, table in models:
        if spec.multi_tenant and dialect.row_level_security and not dialect.has_tenant_policy(conn, table):
            plan.row_security.append(table)
        if table.name not in existing_tables:
            plan.create_tables.append(table)
            continue
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        for column in table.columns:
            found = columns.get(column.name)
            if found is None:
                _plan_new_column(plan, spec, table, column)
            else:
                _compare_column(plan, conn, dialect, table, column, found)
        for name, found in columns.items():
            if name not in table.columns and not found["nullable"] and found.get("default") is None:
                plan.problems.append(
                    f"table {table.name!r}: column {name!r} is not in model {spec.name} but is NOT NULL without "
                    "a default, so new rows could not be stored; drop the column or add the field"
                )
        index_names = {ix["name"] for ix in inspector.get_indexes(table.name)}
        index_names |= {uc["name"] for uc in inspector.get_unique_constraints(table.name)}
        plan.create_indexes += [ix for ix in table.indexes if ix.name not in index_names]
    return plan


def _plan_new_column(plan: SchemaPlan, spec: ModelSpec, table: Table, column: Column) -> None:
    field_spec = spec.fields.get(column.name)
    if column.nullable or (field_spec is not None and not field_spec.required):
        default = field_spec.default_value() if field_spec is not None else None
        plan.add_columns.append((table, column, default))
        return
    what = f"required field {column.name!r}" if field_spec is not None else f"column {column.name!r}"
    plan.problems.append(
        f"table {table.name!r}: cannot add {what} to an existing table: existing rows would have no value "
        "(give the field a default or make it Optional)"
    )


def _compare_column(plan: SchemaPlan, conn, dialect, table: Table, column: Column, found: dict) -> None:
    expected, actual = _type_name(column.type, conn, dialect), _type_name(found["type"], conn, dialect)
    if expected != actual:
        plan.problems.append(
            f"table {table.name!r}: column {column.name!r} changed type from {actual} to {expected}; "
            "type changes are not applied automatically"
        )
        return
    if column.nullable and not found["nullable"]:
        plan.problems.append(
            f"table {table.name!r}: column {column.name!r} became Optional but the column is NOT NULL; "
            "relaxing a column is not applied automatically"
        )
    elif not column.nullable and found["nullable"] and _has_nulls(conn, table, column):
        plan.problems.append(
            f"table {table.name!r}: column {column.name!r} became required but existing rows hold NULL in it"
        )


def _type_name(column_type, conn, dialect) -> str:
    return dialect.type_name(column_type.compile(dialect=conn.dialect).upper(), conn.dialect)


def _has_nulls(conn, table: Table, column: Column) -> bool:
    return conn.execute(select(table.c.id).where(column.is_(None)).limit(1)).first() is not None


def apply_plan(conn, plan: SchemaPlan, metadata, dialect) -> None:
    """Run the planned DDL (`conn` is a synchronous Connection inside a transaction)."""
    if plan.create_tables:
        metadata.create_all(conn, tables=plan.create_tables, checkfirst=True)
    for table, column, default in plan.add_columns:
        _add_column(conn, dialect, table, column, default)
    for index in plan.create_indexes:
        conn.execute(CreateIndex(index))
    for table in plan.row_security:
        dialect.enable_tenant_policy(conn, table)


def _add_column(conn, dialect, table: Table, column: Column, default) -> None:
    """Add the column as nullable, fill existing rows with the field's default (bound through the
    column's own type, so it is stored exactly as a create would store it), then make it NOT NULL
    where the model requires it (as far as the backend can alter a column)."""
    loose = Column(column.name, column.type, nullable=True)
    table_name = conn.dialect.identifier_preparer.format_table(table)
    conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {CreateColumn(loose).compile(dialect=conn.dialect)}"))
    if default is not None:
        conn.execute(update(table).values({column.name: default}))
    if not column.nullable:
        dialect.require_not_null(conn, table, column)


def check_plan(plan: SchemaPlan, *, auto_migrate: bool) -> None:
    if plan.problems:
        raise SchemaError("the database schema cannot be migrated safely: " + "; ".join(plan.problems))
    if plan.changes and not auto_migrate:
        raise SchemaError(
            "the database schema does not match the models and auto_migrate=False: "
            + "; ".join(plan.changes)
            + " (create them, or construct DataFlow with auto_migrate=True)"
        )
