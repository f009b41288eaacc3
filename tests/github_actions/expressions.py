"""GitHub Actions expressions (`${{ ... }}`), the part this project's action and workflows use: contexts
read by dotted name, string/number/boolean/null literals, `!`, `==`, `!=`, `&&`, `||`, parentheses, and
the functions always(), success(), failure(), cancelled(), fromJSON(), toJSON(), contains(). Anything
else is an error, so that the local runner never guesses what GitHub would do.

Semantics follow https://docs.github.com/actions/reference/evaluate-expressions-in-workflows-and-actions:
`&&` and `||` return an operand (not a boolean); `==` compares strings case-insensitively; a missing
property is null; a whole `${{ }}` value keeps its type, a template is a string.
"""

import json
import re

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!().,\[\]])"
    r"|(?P<name>[A-Za-z_][\w-]*))"
)


class ExpressionError(Exception):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
        kind = match.lastgroup
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str, contexts: dict, status: dict):
        self.text, self.items, self.index = text, tokens(text), 0
        self.contexts, self.status = contexts, status

    def peek(self):
        return self.items[self.index] if self.index < len(self.items) else (None, None)

    def take(self, value=None):
        kind, text = self.peek()
        if kind is None or value is not None and text != value:
            raise ExpressionError(f"expected {value!r} in {self.text!r}")
        self.index += 1
        return kind, text

    def parse(self):
        value = self.or_()
        if self.index != len(self.items):
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return value

    def or_(self):
        value = self.and_()
        while self.peek()[1] == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self):
        value = self.compare()
        while self.peek()[1] == "&&":
            self.take()
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self):
        value = self.unary()
        while self.peek()[1] in ("==", "!="):
            _, op = self.take()
            right = self.unary()
            equal = _equal(value, right)
            value = equal if op == "==" else not equal
        return value

    def unary(self):
        if self.peek()[1] == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self):
        kind, text = self.take()
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek()[1] == "(":
            return self.call(text)
        value = self.contexts.get(text) if text in self.contexts else _unknown(text, self.text)
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.or_()
                self.take("]")
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def call(self, name):
        self.take("(")
        arguments = []
        while self.peek()[1] != ")":
            arguments.append(self.or_())
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        functions = {
            "always": lambda: True,
            "success": lambda: not self.status.get("failed"),
            "failure": lambda: bool(self.status.get("failed")),
            "cancelled": lambda: False,
            "fromJSON": lambda text: json.loads(text),
            "toJSON": lambda value: json.dumps(value),
            "contains": lambda haystack, needle: _contains(haystack, needle),
        }
        if name not in functions:
            raise ExpressionError(f"function {name}() is not supported by the local runner ({self.text!r})")
        return functions[name](*arguments)


def _unknown(name, text):
    raise ExpressionError(f"context {name!r} is not known to the local runner ({text!r})")


def _equal(left, right) -> bool:
    """GitHub's loose equality: strings case-insensitively; values of different types as numbers (null and
    '' are 0, so `null == ''` holds)."""
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right) and not isinstance(left, (int, float)):
        return left == right
    return _number(left) == _number(right)  # NaN equals nothing


def _number(value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return float("nan")
    return float("nan")


def _contains(haystack, needle) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return str(needle).lower() in str(haystack or "").lower()


def truthy(value) -> bool:
    return value not in (None, False, 0, "", 0.0)


def evaluate(text: str, contexts: dict, status: dict | None = None):
    """An expression without its `${{ }}`."""
    return _Parser(text, contexts, status or {}).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def render(value, contexts: dict, status: dict | None = None):
    """A YAML value with its `${{ }}` evaluated: a value that is one expression keeps its type."""
    if not isinstance(value, str):
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), contexts, status)
    return _TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), contexts, status)), value)


def to_string(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def condition(text, contexts: dict, status: dict) -> bool:
    """A step's or job's `if:` (implicitly an expression; the default is success())."""
    if text is None:
        return not status.get("failed")
    text = str(text).strip()
    whole = _TEMPLATE.fullmatch(text)
    text = whole.group(1) if whole else text
    if not re.search(r"\b(always|success|failure|cancelled)\(", text):  # GitHub adds success() &&
        return not status.get("failed") and truthy(evaluate(text, contexts, status))
    return truthy(evaluate(text, contexts, status))
