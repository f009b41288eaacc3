"""Python field types: strict validation (each backend's column types: dialects/).

Values are never coerced: a value of the wrong type is an error, and a value the
database could not store exactly (a naive datetime, a Decimal with too many digits,
a string with a NUL byte) is refused instead of being silently changed.
"""

import datetime as dt
import json
import math
from decimal import Context, Decimal

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DECIMAL_PRECISION, DECIMAL_SCALE = 30, 10  # 20 integer digits, 10 fractional digits
INDEXED_STR_LENGTH = 255  # longest value of a str field that is part of an index
JSON_MAX_DEPTH = 100  # deepest JSON nesting stored (MySQL's own limit: one rule on every backend)
YEAR_MIN, YEAR_MAX = 1000, 9999  # the range every backend stores (MySQL DATETIME/DATE)
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
WIDE_CONTEXT = Context(prec=DECIMAL_PRECISION + 30)  # the default 28 digits would fail on wide values

KINDS = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    dt.datetime: "datetime",
    dt.date: "date",
    Decimal: "decimal",
    dict: "dict",
    list: "list",
}


def check_value(kind: str, value, *, indexed: bool = False) -> str | None:
    """Return why `value` is not a valid `kind` value, or None when it is."""
    checker = _CHECKERS[kind]
    problem = checker(value)
    if problem is None and kind == "str" and indexed and len(value) > INDEXED_STR_LENGTH:
        return f"is {len(value)} characters long; indexed text fields hold at most {INDEXED_STR_LENGTH}"
    return problem


def _type_error(expected: str, value) -> str:
    return f"expected {expected}, got {type(value).__name__} {_short(value)}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_str(value):
    if not isinstance(value, str):
        return _type_error("str", value)
    return _check_text(value)


def _check_text(value: str):
    if "\x00" in value:
        return "text contains a NUL character, which PostgreSQL cannot store"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text is not valid Unicode (lone surrogate), so it cannot be stored as UTF-8"
    return None


def _check_int(value):
    if isinstance(value, bool) or not isinstance(value, int):
        return _type_error("int", value)
    if not INT64_MIN <= value <= INT64_MAX:
        return f"{value} is outside the 64-bit integer range"
    return None


def _check_float(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _type_error("float", value)
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number; NaN and infinity are not stored"
    if isinstance(value, int) and (abs(value) > 2**53):
        return f"integer {value} cannot be stored exactly as a float"
    return None


def _check_bool(value):
    return None if isinstance(value, bool) else _type_error("bool", value)


def _check_year(value) -> str | None:
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        return f"year {value.year} is outside the supported range {YEAR_MIN}..{YEAR_MAX}"
    return None


def _check_datetime(value):
    if not isinstance(value, dt.datetime):
        return _type_error("datetime", value)
    if value.tzinfo is None or value.utcoffset() is None:
        return "naive datetime: pass a timezone-aware datetime (e.g. datetime.now(timezone.utc))"
    try:
        return _check_year(value.astimezone(dt.timezone.utc))
    except OverflowError:
        return "datetime is outside the supported range once converted to UTC"


def _check_date(value):
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        return _type_error("date", value)
    return _check_year(value)


def _check_decimal(value):
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        hint = " (floats are inexact: pass Decimal('...'))" if isinstance(value, float) else ""
        return _type_error("Decimal", value) + hint
    value = Decimal(value)
    if not value.is_finite():
        return f"{value} is not a finite number"
    if value.as_tuple().exponent < -DECIMAL_SCALE and quantize(value) != value:
        return f"{value} has more than {DECIMAL_SCALE} fractional digits and would be rounded"
    if value and value.adjusted() >= DECIMAL_PRECISION - DECIMAL_SCALE:
        return f"{value} has more than {DECIMAL_PRECISION - DECIMAL_SCALE} integer digits"
    return None


def quantize(value: Decimal) -> Decimal:
    """`value` at the stored scale (10 fractional digits)."""
    return value.quantize(_QUANTUM, context=WIDE_CONTEXT)


def _check_json_dict(value):
    return _type_error("dict", value) if not isinstance(value, dict) else _check_json(value, "")


def _check_json_list(value):
    return _type_error("list", value) if not isinstance(value, list) else _check_json(value, "")


def _check_json(value, path: str):
    """JSON must round-trip unchanged: str keys only, finite numbers, 64-bit ints, valid text, and at most
    JSON_MAX_DEPTH levels (Python's json and the drivers recurse once per level). Iterative, for the same
    reason."""
    pending = [(value, path, 1)]
    while pending:
        value, path, depth = pending.pop()
        where = path or "top level"
        if isinstance(value, (list, dict)) and depth > JSON_MAX_DEPTH:
            return f"JSON nested more than {JSON_MAX_DEPTH} levels deep at {where}"
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            if problem := _check_text(value):
                return f"{problem} at {where}"
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                return f"integer out of 64-bit range at {path}"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return f"non-finite number at {where}"
        elif isinstance(value, list):
            pending += [(item, f"{path}[{index}]", depth + 1) for index, item in reversed(list(enumerate(value)))]
        elif isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    return f"JSON object key {key!r} at {where} is not a string"
            items = [(item, f"{path}.{key}" if path else key, depth + 1) for key, item in value.items()]
            pending += reversed(items)
        else:
            return f"{type(value).__name__} at {where} is not JSON (use dict, list, str, int, float, bool, None)"
    return None


_CHECKERS = {
    "str": _check_str,
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "datetime": _check_datetime,
    "date": _check_date,
    "decimal": _check_decimal,
    "dict": _check_json_dict,
    "list": _check_json_list,
}

# JSON values are serialised with the standard library on every backend.
json_serializer = json.dumps
