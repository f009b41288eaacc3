"""Turn a @db.model class into a ModelSpec and a SQLAlchemy Table."""

import copy
import re
import types
import typing
from dataclasses import dataclass, field

from dataflow_conformance.contract.operations import CONTEXT_INPUT, TRANSACTION_INPUT
from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table

from .errors import ModelDefinitionError
from .fieldtypes import KINDS, check_value

MISSING = object()
SYSTEM_FIELDS = ("id", "created_at", "updated_at")
SOFT_DELETE_FIELD = "deleted_at"
TENANT_FIELD = "tenant_id"
OPTION_KEYS = {"indexes", "soft_delete", "multi_tenant"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class FieldSpec:
    name: str
    kind: str
    nullable: bool
    default: object = MISSING
    indexed: bool = False

    @property
    def required(self) -> bool:
        return self.default is MISSING and not self.nullable

    def default_value(self):
        if self.default is MISSING:
            return None
        return copy.deepcopy(self.default)  # a mutable default is never shared between rows


@dataclass
class ModelSpec:
    name: str
    table_name: str
    fields: dict[str, FieldSpec]  # user fields, in declaration order
    id_kind: str = "int"
    id_supplied: bool = False  # True when the class declares `id`: the caller supplies it
    soft_delete: bool = False
    multi_tenant: bool = False
    indexes: list[dict] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        names = ["id", *self.fields, "created_at", "updated_at"]
        if self.soft_delete:
            names.append(SOFT_DELETE_FIELD)
        if self.multi_tenant:
            names.append(TENANT_FIELD)
        return names

    def kind_of(self, name: str) -> str:
        if name == "id":
            return self.id_kind
        if name in ("created_at", "updated_at", SOFT_DELETE_FIELD):
            return "datetime"
        if name == TENANT_FIELD:
            return "str"
        return self.fields[name].kind

    def build_table(self, metadata: MetaData, server) -> Table:
        """The table on the connected server (a dialects.ServerInfo: its dialect chooses the column types)."""
        dialect = server.dialect
        if self.id_kind == "str":
            id_column = Column("id", String(255, collation=server.text_collation), primary_key=True)
        elif self.id_supplied:
            id_column = Column("id", BigInteger, primary_key=True, autoincrement=False)
        else:
            id_column = Column("id", dialect.generated_id_type(), primary_key=True)
        columns = [id_column]
        for spec in self.fields.values():
            field_type = dialect.column_type(spec.kind, indexed=spec.indexed, server=server)
            columns.append(Column(spec.name, field_type, nullable=spec.nullable))
        columns.append(Column("created_at", dialect.datetime_type(), nullable=False))
        columns.append(Column("updated_at", dialect.datetime_type(), nullable=False))
        if self.soft_delete:
            columns.append(Column(SOFT_DELETE_FIELD, dialect.datetime_type(), nullable=True))
        if self.multi_tenant:  # with caller-supplied ids, an id is unique within its tenant
            tenant_type = String(255, collation=server.text_collation)
            columns.append(Column(TENANT_FIELD, tenant_type, nullable=False, primary_key=self.id_supplied))
        table = Table(self.table_name, metadata, *columns, **dialect.table_options)
        for option in self.indexes:
            index_fields = list(option["fields"])
            if self.multi_tenant and option.get("unique") and TENANT_FIELD not in index_fields:
                index_fields.insert(0, TENANT_FIELD)  # unique within a tenant, not across tenants
            Index(option["name"], *(table.c[name] for name in index_fields), unique=bool(option.get("unique")))
        if self.multi_tenant:
            Index(f"ix_{self.table_name}_{TENANT_FIELD}"[:60], table.c[TENANT_FIELD])
        return table


def check_identifier_lengths(spec: ModelSpec, dialect) -> None:
    """A name longer than the server keeps is refused: truncation could silently make two names one."""
    if dialect.identifier_limit is None:
        return
    unit, limit = dialect.identifier_limit
    names = [("table name", spec.table_name)] + [(f"field {n!r}", n) for n in spec.fields]
    names += [("index name", ix["name"]) for ix in spec.indexes]
    for what, name in names:
        length = len(name.encode("utf-8")) if unit == "bytes" else len(name)
        if length > limit:
            raise ModelDefinitionError(
                f"model {spec.name}: {what} {name!r} is {length} {unit} long; {dialect.name} keeps at most {limit} "
                "(it would be truncated, and two names could become one)"
            )


def table_name_for(class_name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", class_name).lower()
    if re.search(r"[^aeiou]y$", snake):
        return snake[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", snake):
        return snake + "es"
    return snake + "s"


def parse_model(cls: type, *, multi_tenant_default: bool = False) -> ModelSpec:
    name = cls.__name__
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:
        raise ModelDefinitionError(f"model {name}: cannot resolve the type annotations ({exc})") from None
    own = [n for n in getattr(cls, "__annotations__", {}) if not n.startswith("_")]
    options = getattr(cls, "__dataflow__", {}) or {}
    if not isinstance(options, dict) or set(options) - OPTION_KEYS:
        unknown = sorted(set(options) - OPTION_KEYS) if isinstance(options, dict) else options
        raise ModelDefinitionError(f"model {name}: unknown __dataflow__ option(s) {unknown}")
    spec = ModelSpec(
        name=name,
        table_name=getattr(cls, "__tablename__", None) or table_name_for(name),
        fields={},
        soft_delete=bool(options.get("soft_delete", False)),
        multi_tenant=bool(options.get("multi_tenant", multi_tenant_default)),
    )
    if not _IDENTIFIER.match(spec.table_name):
        raise ModelDefinitionError(f"model {name}: table name {spec.table_name!r} is not a plain identifier")
    reserved = {"created_at", "updated_at", SOFT_DELETE_FIELD, TENANT_FIELD}
    for field_name in own:
        kind, nullable = _kind_of(name, field_name, hints[field_name])
        if field_name == "id":
            if kind not in ("int", "str") or nullable:
                raise ModelDefinitionError(f"model {name}: id must be declared as int or str, not {hints['id']}")
            spec.id_kind, spec.id_supplied = kind, True
            continue
        if field_name in reserved:
            raise ModelDefinitionError(
                f"model {name}: field {field_name!r} is managed by DataFlow and cannot be declared"
            )
        if field_name in (CONTEXT_INPUT, TRANSACTION_INPUT):
            raise ModelDefinitionError(
                f"model {name}: field {field_name!r} cannot be declared: every generated node takes an input of"
                " that name for itself, so no node could write the field"
            )
        default = getattr(cls, field_name, MISSING)
        if default is None:
            nullable = True
        elif default is not MISSING and (problem := check_value(kind, default)):
            raise ModelDefinitionError(f"model {name}: default of field {field_name!r} {problem}")
        spec.fields[field_name] = FieldSpec(field_name, kind, nullable, default)
    spec.indexes = _parse_indexes(spec, options.get("indexes", []))
    return spec


def _kind_of(model: str, field_name: str, annotation) -> tuple[str, bool]:
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(annotation)) != 2:
            raise ModelDefinitionError(f"model {model}: field {field_name!r} has unsupported union type {annotation}")
        annotation, nullable = args[0], True
        origin = typing.get_origin(annotation)
    base = origin or annotation  # dict[str, int] -> dict
    if base not in KINDS:
        supported = ", ".join(t.__name__ for t in KINDS)
        raise ModelDefinitionError(
            f"model {model}: field {field_name!r} has unsupported type {annotation!r}; supported: {supported}, Optional[T]"
        )
    return KINDS[base], nullable


def _parse_indexes(spec: ModelSpec, raw) -> list[dict]:
    if not isinstance(raw, list):
        raise ModelDefinitionError(f"model {spec.name}: __dataflow__['indexes'] must be a list")
    known = set(spec.fields) | {"id", "created_at", "updated_at"}
    parsed = []
    for position, option in enumerate(raw):
        if not isinstance(option, dict) or not option.get("fields"):
            raise ModelDefinitionError(f"model {spec.name}: index #{position} needs a 'fields' list")
        fields = list(option["fields"])
        unknown = [f for f in fields if f not in known]
        if unknown:
            raise ModelDefinitionError(f"model {spec.name}: index #{position} names unknown field(s) {unknown}")
        name = option.get("name") or f"{'uq' if option.get('unique') else 'ix'}_{spec.table_name}_{'_'.join(fields)}"
        if not _IDENTIFIER.match(name):
            raise ModelDefinitionError(f"model {spec.name}: index name {name!r} is not a plain identifier")
        for field_name in fields:
            if field_name in spec.fields:
                spec.fields[field_name].indexed = True
        parsed.append({"name": name, "fields": fields, "unique": bool(option.get("unique", False))})
    return parsed
