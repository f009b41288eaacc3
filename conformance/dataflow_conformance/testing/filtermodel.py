"""The contract's filter semantics, evaluated in Python: the oracle for differential tests.

MongoDB-style: a comparison with a missing (None) value is false, so `$ne`, `$nin` and
`$not` match records whose value is None.
"""

import re


def matches(record: dict, filter_spec: dict) -> bool:
    return all(_entry(record, key, value) for key, value in filter_spec.items())


def _entry(record, key, value) -> bool:
    if key == "$and":
        return all(matches(record, part) for part in value)
    if key == "$or":
        return any(matches(record, part) for part in value)
    if key == "$not":
        return not matches(record, value)
    if isinstance(value, dict):
        return all(_operator(record.get(key), op, arg) for op, arg in value.items())
    return _operator(record.get(key), "$eq", value)


def _operator(actual, op, arg) -> bool:
    if op == "$eq":
        return actual is None if arg is None else actual is not None and actual == arg
    if op == "$ne":
        return not _operator(actual, "$eq", arg)
    if op == "$in":
        return any(_operator(actual, "$eq", item) for item in arg)
    if op == "$nin":
        return not _operator(actual, "$in", arg)
    if op in ("$exists", "$null"):
        present = actual is not None
        return present == arg if op == "$exists" else (not present) == arg
    if op == "$not":
        return not all(_operator(actual, inner, inner_arg) for inner, inner_arg in arg.items())
    if op == "$like":
        return actual is not None and like_regex(arg).fullmatch(actual) is not None
    if actual is None:
        return False
    return {"$gt": actual > arg, "$gte": actual >= arg, "$lt": actual < arg, "$lte": actual <= arg}[op]


def like_regex(pattern: str) -> re.Pattern:
    """SQL LIKE with backslash as the escape character, case-sensitive."""
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)
