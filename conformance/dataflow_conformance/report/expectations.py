"""Expected outcomes of one implementation, kept as reviewable data (as web-platform-tests keeps its
expectation files).

The file maps test ids (relative to the suite) to an entry, one TOML table per backend (`any` for tests
that run once for every backend): a table of a backend the run does not have is not read, so one file
serves any subset of backends. An entry is a reason, or an inline table with conditions:

    "test_crud.py::test_delete[sqlite-local]" = "delete reports True for a missing id"
    "test_pool.py::test_exhaustion[mysql-local]" = { reason = "lock waits", expected = ["fail", "pass"] }
    "test_bulk.py::test_upsert[sqlite-local]" = { reason = "counts updates as inserts", versions = "<2.21" }

`expected` lists the outcomes the test may have (default: `fail`, which covers failed, error and blocked;
`["fail", "pass"]` marks an intermittent test); `versions` is a PEP 440 specifier of the implementation
versions the entry applies to. A test listed as failing that passes is **fixed**: the run says so and
fails (unless fixed entries are allowed) until the entry is removed. An entry that names a test the
suite does not have is **stale**: the run names it with the nearest existing test and fails after
writing its report. Entries of modules the run did not collect, or of backends it does not have, are
neither.
"""

import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..backends.registry import BACKENDS
from .tag import EVERY_BACKEND

BACKEND_TABLES = (EVERY_BACKEND, *BACKENDS)  # a table per backend of the registry, and one for every backend
FAIL, PASS = "fail", "pass"  # the outcomes an entry may allow
BUNDLED = resources.files("dataflow_conformance") / "expectations"  # expectations files that ship with the kit
_ENTRY_KEYS = {"reason", "expected", "versions"}


class ExpectationsError(Exception):
    pass


@dataclass(frozen=True)
class Entry:
    reason: str
    expected: tuple[str, ...] = (FAIL,)
    versions: str | None = None  # a PEP 440 specifier; None: every version

    @property
    def intermittent(self) -> bool:
        return PASS in self.expected

    def applies_to(self, version: str) -> bool:
        if self.versions is None:
            return True
        try:
            return Version(version) in SpecifierSet(self.versions)
        except InvalidVersion:
            return False  # an implementation without a PEP 440 version matches no version condition


@dataclass(frozen=True)
class Stale:
    backend: str
    test_id: str
    nearest: str | None

    def __str__(self) -> str:
        return f"[{self.backend}] {self.test_id}" + (f" (nearest: {self.nearest})" if self.nearest else "")


@dataclass
class Expectations:
    tables: dict[str, dict[str, Entry]] = field(default_factory=dict)  # backend -> {test id -> entry}
    source: str = ""

    @classmethod
    def empty(cls) -> "Expectations":
        return cls({name: {} for name in BACKEND_TABLES})

    def entry(self, backend: str, suite_id: str, version: str) -> Entry | None:
        """The entry that applies to this test of this implementation version, if any."""
        found = self.tables.get(backend, {}).get(suite_id)
        return found if found is not None and found.applies_to(version) else None

    def stale(self, collected: set[str], backends_in_run: set[str]) -> list[Stale]:
        """Entries naming a test the suite does not have, among the entries this run can judge: those of
        its backends and of the test modules it collected (a `-k` selection is applied after this check;
        file arguments leave other modules out)."""
        modules = {test_id.partition("::")[0] for test_id in collected}
        problems = []
        for backend, entries in self.tables.items():
            if backend != EVERY_BACKEND and backend not in backends_in_run:
                continue
            for test_id in sorted(entries):
                if test_id not in collected and test_id.partition("::")[0] in modules:
                    problems.append(Stale(backend, test_id, nearest(test_id, collected)))
        return problems


def nearest(test_id: str, collected: set[str]) -> str | None:
    """The existing test an entry most likely meant: the same function with the closest parameters, else
    the closest function of the same module."""
    function, _, params = test_id.partition("[")
    same_function = {c.partition("[")[2]: c for c in collected if c.partition("[")[0] == function}
    if same_function:
        close = difflib.get_close_matches(params, list(same_function), n=1, cutoff=0)
        return same_function[close[0]]
    module, _, name = function.partition("::")
    names = {c.partition("[")[0].partition("::")[2] for c in collected if c.startswith(module + "::")}
    close = difflib.get_close_matches(
        name.removeprefix("test_"), [n.removeprefix("test_") for n in names], n=1, cutoff=0.8
    )
    if not close:
        return None
    same = sorted(c for c in collected if c.partition("[")[0] == f"{module}::test_{close[0]}")
    candidates = {c.partition("[")[2]: c for c in same}
    best = difflib.get_close_matches(params, list(candidates), n=1, cutoff=0) if params else []
    return candidates[best[0]] if best else same[0]


def locate(name_or_path: str) -> Path:
    """A path, or the name of an expectations file the kit bundles (`dataflow`)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return path
    bundled = BUNDLED / f"{name_or_path}.toml"
    if bundled.is_file():
        return Path(str(bundled))
    names = sorted(p.name.removesuffix(".toml") for p in BUNDLED.iterdir() if p.name.endswith(".toml"))
    raise ExpectationsError(
        f"--dataflow-expectations {name_or_path}: no such file, and no bundled file of that name ({names})"
    )


def load(path: Path) -> Expectations:
    try:
        return parse(Path(path).read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise ExpectationsError(f"expectations file {path} does not exist") from None


def parse(text: str, source: str) -> Expectations:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExpectationsError(f"expectations file {source} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(BACKEND_TABLES) - {"meta"})
    if unknown:
        raise ExpectationsError(
            f"expectations file {source}: unknown table(s) {unknown}; expected {list(BACKEND_TABLES)}"
        )
    tables = {}
    for backend in BACKEND_TABLES:
        tables[backend] = {}
        for test_id, value in data.get(backend, {}).items():
            try:
                tables[backend][test_id] = parse_entry(value)
            except ValueError as exc:
                raise ExpectationsError(f"expectations file {source}: [{backend}] {test_id!r}: {exc}") from None
    return Expectations(tables, source)


def parse_entry(value) -> Entry:
    """An entry from its TOML value: a reason, or a table of reason, expected and versions."""
    if isinstance(value, str):
        value = {"reason": value}
    if not isinstance(value, dict):
        raise ValueError(f"an entry is a reason or a table {sorted(_ENTRY_KEYS)}, not {type(value).__name__}")
    unknown = sorted(set(value) - _ENTRY_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; an entry has {sorted(_ENTRY_KEYS)}")
    reason = value.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("the entry has no reason: say why the test is expected to fail")
    expected = value.get("expected", [FAIL])
    expected = [expected] if isinstance(expected, str) else expected
    if not isinstance(expected, list) or not set(expected) <= {FAIL, PASS} or FAIL not in expected:
        raise ValueError(f'expected = {expected!r}: use "fail", or ["fail", "pass"] for an intermittent test')
    versions = value.get("versions")
    if versions is not None:
        try:
            SpecifierSet(versions)
        except (InvalidSpecifier, TypeError):
            raise ValueError(
                f'versions = {versions!r} is not a version specifier (e.g. "<2.21" or ">=1.8,<2")'
            ) from None
    return Entry(reason.strip(), tuple(dict.fromkeys(expected)), versions)
