"""MongoDB-style filters and order_by specs, checked against the model and compiled to SQLAlchemy.

Identifiers come only from the model (a filter key or sort key that is not a column is an
error); values are always bound parameters.
"""

from sqlalchemy import and_, false, func, not_, or_, true

from .errors import ValidationError
from .fieldtypes import check_value
from .model import ModelSpec

COMPARISONS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$like", "$exists", "$null", "$not"}
LOGICAL = {"$and", "$or", "$not"}
_ORDERED = {"$gt", "$gte", "$lt", "$lte"}
_UNORDERED_KINDS = {"dict", "list"}


class FilterCompiler:
    def __init__(self, spec: ModelSpec, table, dialect, *, visible: set[str] | None = None):
        self.spec, self.table, self.dialect = spec, table, dialect
        self.visible = visible if visible is not None else set(spec.column_names)

    def compile(self, filter_spec, *, where: str = "filter"):
        if filter_spec is None:
            return true()
        if not isinstance(filter_spec, dict):
            raise ValidationError(self.spec.name, where, f"must be a dict, got {type(filter_spec).__name__}")
        clauses = [self._entry(key, value, where) for key, value in filter_spec.items()]
        return and_(true(), *clauses)

    def _entry(self, key, value, where):
        if not isinstance(key, str):
            raise ValidationError(self.spec.name, where, f"filter key {key!r} is not a string")
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise ValidationError(self.spec.name, where, f"{key} needs a non-empty list of filters")
            parts = [self.compile(item, where=f"{where}.{key}[{i}]") for i, item in enumerate(value)]
            return and_(*parts) if key == "$and" else or_(*parts)
        if key == "$not":
            return _negate(self.compile(value, where=f"{where}.$not"))
        if key.startswith("$"):
            raise ValidationError(self.spec.name, where, f"unknown operator {key!r}")
        if key not in self.visible:
            raise ValidationError(
                self.spec.name, key, f"unknown field in {where}; known fields: {sorted(self.visible)}"
            )
        return self._field(key, value, where)

    def _field(self, name, value, where):
        if isinstance(value, dict):
            if not value:
                raise ValidationError(self.spec.name, name, f"empty operator dict in {where}")
            return and_(*(self._operator(name, op, arg, where) for op, arg in value.items()))
        return self._operator(name, "$eq", value, where)

    def _operator(self, name, op, arg, where):
        column, kind = self.table.c[name], self.spec.kind_of(name)
        if op not in COMPARISONS:
            raise ValidationError(self.spec.name, name, f"unknown operator {op!r} in {where}")
        if op == "$not":
            if not isinstance(arg, dict):
                raise ValidationError(self.spec.name, name, "$not needs an operator dict")
            return _negate(self._field(name, arg, where))
        if op in ("$exists", "$null"):
            if not isinstance(arg, bool):
                raise ValidationError(self.spec.name, name, f"{op} needs true or false, got {arg!r}")
            is_null = arg if op == "$null" else not arg
            return column.is_(None) if is_null else column.is_not(None)
        if kind in _UNORDERED_KINDS and not (op in ("$eq", "$ne") and arg is None):
            raise ValidationError(
                self.spec.name, name, f"JSON fields can only be filtered with None, $exists or $null, not {op}"
            )
        if op in ("$in", "$nin"):
            if not isinstance(arg, (list, tuple)):
                raise ValidationError(self.spec.name, name, f"{op} needs a list, got {type(arg).__name__}")
            values = [self._value(name, kind, item, op) for item in arg if item is not None]
            has_null = any(item is None for item in arg)
            matched = or_(column.in_(values) if values else false(), column.is_(None) if has_null else false())
            if op == "$in":
                return matched
            # $nin matches NULL unless None is listed (MongoDB semantics; SQL NOT IN would drop NULL rows).
            return (
                column.is_not(None)
                if has_null and not values
                else (
                    and_(column.is_not(None), column.not_in(values))
                    if has_null
                    else or_(column.is_(None), column.not_in(values))
                )
            )
        if op == "$like":
            if kind != "str":
                raise ValidationError(self.spec.name, name, f"$like only applies to text fields, not {kind}")
            if not isinstance(arg, str):
                raise ValidationError(self.spec.name, name, f"$like needs a string pattern, got {type(arg).__name__}")
            pattern = self._value(name, kind, arg, op)  # text a database can hold (no NUL: SQLite ends patterns there)
            if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
                raise ValidationError(self.spec.name, name, "$like pattern ends with the escape character \\")
            return column.like(pattern, escape="\\")
        if arg is None:
            if op == "$eq":
                return column.is_(None)
            if op == "$ne":
                return column.is_not(None)
            raise ValidationError(self.spec.name, name, f"{op} cannot compare with None")
        value = self._value(name, kind, arg, op)
        if op == "$eq":
            return column == value
        if op == "$ne":  # MongoDB semantics: NULL is "not equal" to any value
            return or_(column.is_(None), column != value)
        target, value = self.dialect.comparable(column, kind), self.dialect.comparable_value(kind, value)
        return {"$gt": target > value, "$gte": target >= value, "$lt": target < value, "$lte": target <= value}[op]

    def _value(self, name, kind, value, op):
        if problem := check_value(kind, value):
            raise ValidationError(self.spec.name, name, f"{op} value {problem}")
        return value

    def order_by(self, order_spec) -> list:
        """Parse ["field", "-field"] or [{"field": 1 | -1}]; always ends with id for a stable order."""
        if order_spec is None:
            order_spec = []
        if isinstance(order_spec, (str, dict)):
            order_spec = [order_spec]
        if not isinstance(order_spec, list):
            raise ValidationError(self.spec.name, "order_by", f"must be a list, got {type(order_spec).__name__}")
        keys: list[tuple[str, bool]] = []
        for item in order_spec:
            if isinstance(item, str):
                keys.append((item[1:], True) if item.startswith("-") else (item, False))
            elif isinstance(item, dict) and len(item) == 1:
                ((name, direction),) = item.items()
                if direction not in (1, -1) or isinstance(direction, bool):
                    raise ValidationError(
                        self.spec.name, "order_by", f"direction of {name!r} must be 1 or -1, got {direction!r}"
                    )
                keys.append((name, direction == -1))
            else:
                raise ValidationError(
                    self.spec.name, "order_by", f"entry {item!r} is not 'field', '-field' or {{'field': 1|-1}}"
                )
        clauses = []
        for name, descending in keys:
            if name not in self.visible:
                raise ValidationError(
                    self.spec.name, name, f"unknown field in order_by; known fields: {sorted(self.visible)}"
                )
            kind = self.spec.kind_of(name)
            if kind in _UNORDERED_KINDS:
                raise ValidationError(self.spec.name, name, "JSON fields cannot be sorted")
            target = self.dialect.comparable(self.table.c[name], kind)
            clause = target.desc() if descending else target.asc()
            # NULL sorts as the smallest value on every backend; only where NULL can occur, since an
            # explicit NULLS order the indexes do not have turns an index scan into a full sort.
            if self.dialect.nulls_sort_high and self.table.c[name].nullable:
                clause = clause.nulls_last() if descending else clause.nulls_first()
            clauses.append(clause)
        if "id" not in [name for name, _ in keys]:
            clauses.append(self.table.c.id.asc())
        return clauses


def _negate(expression):
    # SQL's NOT NULL is NULL (row dropped); a comparison with a missing value is false, so its negation is true.
    return not_(func.coalesce(expression, false()))
