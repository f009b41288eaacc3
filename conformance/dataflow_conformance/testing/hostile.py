"""Hostile input, generated: text, JSON documents and identifiers built to break quoting, escaping,
Unicode handling and limits, for the SAFE tests (suite/test_hostile.py) and any implementation's own.

`HostileInput(seed, identifier_limit=63)` draws from curated fragments — SQL syntax, quoting and escape
tricks, Unicode confusables, combining marks and every normalisation form (unicodedata), NUL and control
characters, lone surrogates, lengths at common limits (the backend's identifier limit, 255 / 767 / 3072 /
65,535 / 65,536 and one million characters, in one- and four-byte characters), JSON nested at and past
the depths databases limit, numbers at the edges of JSON and of 64-bit integers — alone first, then
combined at random (`random.Random(seed)`): the same seed gives the same values. Each value carries its
category, so a failure says what kind of input it was.
"""

import json
import random
import reprlib
import unicodedata
from dataclasses import dataclass

SQL = [
    "'",
    "''",
    "' OR '1'='1",
    "' OR 1=1 --",
    "'; DROP TABLE targets; --",
    '" OR ""="',
    "1; DELETE FROM targets",
    "') OR ('a'='a",
    "' UNION SELECT NULL, NULL --",
    "/* comment */",
    "--",
    "#",
    ";",
    "$$ dollar $$",
    "$tag$ quoted $tag$",
    "E'\\x27'",
    "pg_sleep(5)",
    "SLEEP(5)",
    "CHAR(39)",
    "0x27",
    "::text",
    "?",
    ":label",
    "%s",
    "%(label)s",
    "{0}",
    "${label}",
    "NULL",
    "null",
    "\\N",
    "TRUE",
    "%",
    "_",
    "%_%",
    "[a-z]",
    "'||'",
    "`targets`",
]
QUOTES = [
    "\\",
    "\\\\",
    "\\'",
    '\\"',
    "\\\\'",
    "'\\''",
    "\u2019",  # right single quotation mark
    "\u02bc",  # modifier letter apostrophe
    "\uff07",  # fullwidth apostrophe
    "\u201c\u201d",
    "\u00b4",
    "\\%",
    "\\_",
    "%27",
    "&#39;",
    "\\u0027",
]
UNICODE = [
    "caf\u00e9",  # é composed
    "cafe\u0301",  # é decomposed
    "\ufb01le",  # fi ligature (NFKC: "file")
    "\uff21\uff22\uff23",  # fullwidth ABC
    "\u0430dmin",  # Cyrillic a + "dmin": confusable with "admin"
    "ad\u03bfmin",  # Greek omicron
    "\u212b",  # Angstrom sign (NFC: Å)
    "\u00c5",
    "\u2126",  # Ohm sign (NFC: Ω)
    "Stra\u00dfe",
    "STRASSE",
    "\u0131",  # dotless i
    "\u0130",  # dotted capital I
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte order mark
    "\u202eevil",  # right-to-left override
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
    "a" + "\u0301" * 30,  # stacked combining marks
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # family emoji (ZWJ sequence)
    "\U0001d518\U0001d52b\U0001d526",  # mathematical Fraktur (four-byte)
    "\U0001f600",
    "\ud55c\uad6d\uc5b4",  # Hangul (NFD decomposes it)
    "\ufffd",
    "\uffff",  # a noncharacter
    "\U0010ffff",  # the last code point
    "\ue000",  # private use
    "\u0000",  # NUL
]
CONTROL = [
    "\x01",
    "\x07",
    "\x08",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1b[31mred\x1b[0m",
    "\x7f",
    "\u0085",
    "\u2028",
    "\u2029",
    "a\x00b",
    "\x00",
    "\ud800",  # a lone surrogate: not valid Unicode text
]
NORMAL_FORMS = ("NFC", "NFD", "NFKC", "NFKD")
LENGTHS = (0, 1, 63, 64, 65, 255, 256, 767, 768, 1024, 3072, 65535, 65536)
LONGEST = 1_000_000
JSON_DEPTHS = (1, 31, 32, 33, 63, 64, 65, 99, 100, 101, 200, 400, 1000, 1001, 5000)
JSON_NUMBERS = [
    2**53,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    2**63,
    2**64,
    -(2**64),
    10**30,
    1e308,
    5e-324,
    -0.0,
    0.1,
    1.0,
    float("nan"),
    float("inf"),
]
JSON_KEYS = [
    "",
    " ",
    "'; DROP TABLE targets; --",
    "$where",
    "$gt",
    "__proto__",
    "constructor",
    "a.b",
    "a->>'b'",
    "\u0000",
]


@dataclass(frozen=True)
class Hostile:
    category: str
    value: object

    def describe(self) -> str:
        return f"{self.category} {short(self.value)} ({_size(self.value)})"


_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxdict, _SHORT.maxlist = 4, 80, 80, 4, 4


def short(value) -> str:
    """A bounded, ASCII-only picture of any value (documents nest deeper than repr can go)."""
    return _SHORT.repr(value).encode("ascii", "backslashreplace").decode("ascii")


def _size(value) -> str:
    return f"{len(value)} chars" if isinstance(value, str) else type(value).__name__


class HostileInput:
    def __init__(self, seed, *, identifier_limit: int | None = None):
        self.rng = random.Random(f"hostile:{seed}")
        self.identifier_limit = identifier_limit or 64

    # -- text ---------------------------------------------------------------------------------

    def texts(self, count: int) -> list[Hostile]:
        """`count` text values: every curated one first (categories interleaved, so a small budget
        covers each), then random combinations and normal forms of them."""
        curated = _interleave(
            [Hostile("sql", v) for v in SQL],
            [Hostile("quoting", v) for v in QUOTES],
            [Hostile("unicode", v) for v in UNICODE],
            [Hostile("control", v) for v in CONTROL],
            [Hostile("length", v) for v in self._lengths()],
            [Hostile("normalisation", unicodedata.normalize(form, v)) for v in UNICODE[:12] for form in NORMAL_FORMS],
        )
        found = curated[:count]
        while len(found) < count:
            found.append(self._combined())
        return found

    def _lengths(self) -> list[str]:
        limit = self.identifier_limit
        found = []
        for n in sorted({*LENGTHS, limit - 1, limit, limit + 1}):
            found += ["x" * n, "\u00e9" * n if n < 5000 else "\U0001f600" * n]  # one-, two- and four-byte text
        return [*found, "y" * LONGEST]

    def _combined(self) -> Hostile:
        pools = (SQL, QUOTES, UNICODE, CONTROL)
        parts = [self.rng.choice(self.rng.choice(pools)) for _ in range(self.rng.randint(2, 4))]
        text = self.rng.choice(("", "x", " ", "'")).join(parts)
        if self.rng.random() < 0.3:
            text = unicodedata.normalize(self.rng.choice(NORMAL_FORMS), text)
        if self.rng.random() < 0.1:
            text = text * self.rng.choice((50, 500))
        return Hostile("combined", text)

    # -- JSON -------------------------------------------------------------------------------

    def documents(self, count: int, *, deepest: int | None = None) -> list[Hostile]:
        """`count` JSON documents (dicts): nesting at and past the usual depth limits (up to `deepest`
        levels), numbers at the edges, hostile keys and text values."""
        depths = [d for d in JSON_DEPTHS if deepest is None or d <= deepest]
        curated = _interleave(
            [Hostile("json-depth", _nested(depth, self.rng.choice((dict, list)))) for depth in depths],
            [Hostile("json-number", {"n": n}) for n in JSON_NUMBERS],
            [Hostile("json-key", {key: 1}) for key in JSON_KEYS],
            [Hostile("json-text", {"t": v}) for v in [*SQL[:8], *QUOTES[:6], *UNICODE, *CONTROL]],
            [Hostile("json-size", {"items": list(range(n))}) for n in (0, 1000, 100_000)],
        )
        found = curated[:count]
        while len(found) < count:
            texts = [self._combined().value for _ in range(3)]
            document = {
                texts[0]: texts[1],
                "n": self.rng.choice(JSON_NUMBERS[:12]),
                "deep": _nested(self.rng.randint(1, 40), dict),
            }
            found.append(Hostile("json-combined", {"t": texts[2], "d": document}))
        return found

    # -- identifiers ----------------------------------------------------------------------------

    def identifiers(self, count: int, *, fields: list[str]) -> list[Hostile]:
        """`count` names that are no field of a model with `fields`: SQL fragments, quoted and qualified
        names, confusables and other spellings of the real fields, operator-like names, and names at
        and past the identifier limit."""
        real = set(fields)
        field = fields[0]
        curated = _interleave(
            [Hostile("identifier-sql", v) for v in _identifier_sql(field)],
            [Hostile("identifier-confusable", v) for f in fields for v in _confusables(f)],
            [
                Hostile("identifier-operator", v)
                for v in ("$where", "$regex", "$expr", "$", "$$", "__proto__", "constructor")
            ],
            [Hostile("identifier-length", v) for v in self._long_names(field)],
            [Hostile("identifier-text", v) for v in [*SQL, *QUOTES, *UNICODE, *CONTROL] if v not in real],
        )
        found = [h for h in curated if h.value not in real][:count]
        while len(found) < count:
            fragment = self._combined().value[: self.rng.randint(1, 60)]
            name = self.rng.choice(
                (f"{self.rng.choice(fields)}{fragment}", f"{fragment}{self.rng.choice(fields)}", fragment)
            )
            if name not in real:
                found.append(Hostile("identifier-combined", name))
        return found

    def _long_names(self, field: str) -> list[str]:
        limit = self.identifier_limit
        names = [field + "_" + "x" * (n - len(field) - 1) for n in (limit - 1, limit, limit + 1) if n > len(field) + 1]
        return [*names, "\u00e9" * (limit // 2 + 1), "\U0001f600" * (limit // 4 + 1), "a" * 10_000]


def _identifier_sql(field: str) -> list[str]:
    return [
        f"{field}; DROP TABLE targets",
        f"1=1 OR {field}",
        f"{field} OR 1=1",
        f"{field}--",
        f"{field})",
        "(SELECT 1)",
        f"{field} AS x",
        f"targets.{field}",
        f'"{field}"',
        f"`{field}`",
        f"[{field}]",
        f"{field}::text",
        f"{field}->>'a'",
        f"{field}.a",
        f"{field}, id",
        f"{field} DESC",
        "*",
        "",
        " ",
        "id OR 1=1",
    ]


def _confusables(field: str) -> list[str]:
    """Other spellings of a real field name that must not reach it: case, spaces, invisible and
    look-alike characters, normal forms."""
    spellings = [
        field.upper(),
        field.capitalize(),
        f"{field} ",
        f" {field}",
        f"{field}\u200b",
        f"{field}\x00",
        f"{field}\u00ad",  # soft hyphen
        field.replace("a", "\u0430").replace("e", "\u0435").replace("o", "\u043e"),  # Cyrillic look-alikes
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in field),  # fullwidth
        field[:1] + "\u0301" + field[1:],
    ]
    return [s for s in dict.fromkeys(spellings) if s != field]


def _nested(depth: int, container) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"k": value} if container is dict else [value]
    return value if isinstance(value, dict) else {"list": value}


def _interleave(*groups: list) -> list:
    """The groups' items taken in turn, so that any prefix holds some of each."""
    found, longest = [], max(len(g) for g in groups)
    for index in range(longest):
        found += [group[index] for group in groups if index < len(group)]
    return found


def same_json(a, b) -> bool:
    """Two JSON values are the same document: equal, with the same types (1 is not 1.0 nor True) and
    floats equal bit for bit (repr); object key order does not matter. Iterative: documents nest deeper
    than Python's recursion limit."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if x.keys() != y.keys():
                return False
            pending += [(x[k], y[k]) for k in x]
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending += zip(x, y, strict=True)
        elif isinstance(x, float) and repr(x) != repr(y) or not isinstance(x, float) and x != y:
            return False
    return True


def as_json(value):
    """A JSON column's value as read through the probe: the driver's dict or list, or the document the text
    stored holds (text that is no JSON document stays text: it equals no document written)."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
