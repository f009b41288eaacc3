"""The clause registry: read from the contract pages (docs/contract/*.md).

The pages are the single source of truth for the clauses. The package ships `clauses.json`, generated
from them by `dataflow-conformance clauses --write`. Each clause's `*Tests:*` line lists the conformance
tests that check it; the same command writes those lines from the suite's `@pytest.mark.clause` markers,
and `drift()` (the command without --write, and a self-test) reports any difference between the three.
"""

import hashlib
import importlib
import inspect
import json
import pkgutil
import re
from dataclasses import asdict, dataclass
from pathlib import Path

REGISTRY_FILE = Path(__file__).with_name("clauses.json")
PAGES_DIR = Path(__file__).with_name("pages")  # docs/contract/, shipped inside the package
_HEADING = re.compile(
    r"^### (?P<id>[A-Z]+-\d{3}) · (?P<level>MUST|SHOULD)(?: · capability `(?P<capability>[a-z_]+)`)?\s*$"
)
_SOURCE = re.compile(r"^\*Source:\*\s*(?P<source>.+)$")
_TESTS = re.compile(r"^\*Tests:\*\s*(?P<tests>.*)$")
NO_TESTS = "none"


@dataclass(frozen=True)
class Clause:
    id: str
    level: str  # MUST (core profile) | SHOULD (extended profile, gated by a capability)
    text: str
    source: str
    capability: str | None
    page: str
    tests: tuple[str, ...] = ()  # suite test ids (`test_crud.py::test_delete`), from the page's *Tests:* line

    @property
    def area(self) -> str:
        return self.id.split("-")[0]


def parse_pages(contract_dir: Path) -> dict[str, Clause]:
    clauses: dict[str, Clause] = {}
    for page in sorted(contract_dir.glob("*.md")):
        current, body, source, tests, in_code = None, [], "", (), False
        lines = page.read_text(encoding="utf-8").splitlines() + ["### END"]
        for line in lines:
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code:
                continue  # an example: runs as a doc test, says nothing about the rule
            if line.startswith("#"):
                if current:
                    if current["id"] in clauses:
                        raise ValueError(f"{page.name}: clause {current['id']} is defined twice")
                    text = " ".join(body).strip()
                    if not text or not source:
                        raise ValueError(
                            f"{page.name}: clause {current['id']} needs a rule sentence and a *Source:* line"
                        )
                    clauses[current["id"]] = Clause(
                        current["id"], current["level"], text, source, current["capability"], page.name, tests
                    )
                current, body, source, tests = None, [], "", ()
                if match := _HEADING.match(line):
                    current = match.groupdict()
                    if current["level"] == "SHOULD" and not current["capability"]:
                        raise ValueError(f"{page.name}: SHOULD clause {current['id']} must name its capability")
                elif line.startswith("### ") and line != "### END":
                    raise ValueError(f"{page.name}: malformed clause heading {line!r}")
                continue
            if current is None:
                continue
            if match := _SOURCE.match(line.strip()):
                source = match["source"].strip()
            elif match := _TESTS.match(line.strip()):
                tests = tuple(re.findall(r"`([^`]+)`", match["tests"]))
            elif not source and line.strip():
                body.append(line.strip())
    return clauses


def page_anchor(clause: Clause) -> str:
    """The fragment of the clause's heading on its page (GitHub's heading slugs)."""
    heading = f"{clause.id} · {clause.level}" + (f" · capability {clause.capability}" if clause.capability else "")
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def load() -> dict[str, Clause]:
    data = json.loads(REGISTRY_FILE.read_text(encoding="utf-8"))
    return {item["id"]: Clause(**{**item, "tests": tuple(item.get("tests", ()))}) for item in data}


def fingerprint(clauses: dict[str, Clause]) -> str:
    """A short hash of the contract's rules (id, level, capability, text): two reports with the same
    fingerprint judged the same clause set, and a committed report whose fingerprint differs from the kit's
    is stale."""
    rules = [[c.id, c.level, c.capability, c.text] for c in sorted(clauses.values(), key=lambda c: c.id)]
    return hashlib.sha256(json.dumps(rules, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def dump(clauses: dict[str, Clause]) -> str:
    return (
        json.dumps([asdict(c) for c in sorted(clauses.values(), key=lambda c: c.id)], indent=1, ensure_ascii=False)
        + "\n"
    )


# -- which tests check which clause --------------------------------------------------------------


def suite_markers(package: str = "dataflow_conformance.suite") -> dict[str, list[str]]:
    """Suite test id (`test_crud.py::test_delete`, `test_x.py::TestClass::test_y`) -> the clause ids its
    `@pytest.mark.clause` markers name (on the test, its class or its module), read from the real markers."""
    suite = importlib.import_module(package)
    found: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(suite.__path__), key=lambda i: i.name):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        module_ids = _clause_ids(module)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue  # imported from elsewhere: collected (and counted) where it is defined
            if name.startswith("test_") and inspect.isfunction(obj):
                found[f"{info.name}.py::{name}"] = module_ids + _clause_ids(obj)
            elif name.startswith("Test") and inspect.isclass(obj):
                class_ids = module_ids + _clause_ids(obj)
                for method in sorted(m for m in dir(obj) if m.startswith("test") or m == "runTest"):
                    if callable(getattr(obj, method)):
                        found[f"{info.name}.py::{name}::{method}"] = class_ids + _clause_ids(getattr(obj, method))
    return found


def _clause_ids(obj) -> list[str]:
    marks = getattr(obj, "pytestmark", [])
    marks = marks if isinstance(marks, list) else [marks]
    return [cid for mark in marks if getattr(mark, "name", None) == "clause" for cid in mark.args]


def tests_by_clause(markers: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    result: dict[str, list[str]] = {}
    for test, ids in markers.items():
        for cid in dict.fromkeys(ids):
            result.setdefault(cid, []).append(test)
    return {cid: tuple(sorted(tests)) for cid, tests in result.items()}


def tests_line(tests: tuple[str, ...]) -> str:
    return "*Tests:* " + (", ".join(f"`{t}`" for t in tests) if tests else NO_TESTS)


def write_tests_lines(contract_dir: Path, markers: dict[str, list[str]] | None = None) -> list[str]:
    """Rewrite every clause's *Tests:* line (placed right after its *Source:* line) from the markers;
    returns the names of the pages that changed. Nothing else on a page is touched."""
    by_clause = tests_by_clause(suite_markers() if markers is None else markers)
    changed = []
    for page in sorted(contract_dir.glob("*.md")):
        old = page.read_text(encoding="utf-8")
        lines, current, in_code = [], None, False
        for line in old.splitlines():
            if line.startswith("```"):
                in_code = not in_code
            if not in_code and (match := _HEADING.match(line)):
                current = match["id"]
            elif not in_code and line.startswith("#"):
                current = None
            if current and not in_code and _TESTS.match(line.strip()):
                continue  # regenerated below, after the Source line
            lines.append(line)
            if current and not in_code and _SOURCE.match(line.strip()):
                lines.append(tests_line(by_clause.get(current, ())))
        new = "\n".join(lines) + ("\n" if old.endswith("\n") else "")
        if new != old:
            page.write_text(new, encoding="utf-8")
            changed.append(page.name)
    return changed


def drift(contract_dir: Path, markers: dict[str, list[str]] | None = None) -> list[str]:
    """Every way the pages, clauses.json and the suite's markers disagree (empty: in sync)."""
    pages = parse_pages(contract_dir)
    markers = suite_markers() if markers is None else markers
    by_clause = tests_by_clause(markers)
    problems = []
    if not REGISTRY_FILE.exists() or load() != pages:
        problems.append("clauses.json differs from the contract pages")
    for cid, clause in sorted(pages.items()):
        if clause.tests != by_clause.get(cid, ()):
            problems.append(f"{clause.page}: the *Tests:* line of {cid} differs from the suite's markers")
        if cid not in by_clause:
            problems.append(f"{cid} has no conformance test")
    for test, ids in sorted(markers.items()):
        if not ids:
            problems.append(f"{test} names no clause (@pytest.mark.clause)")
        for cid in ids:
            if cid not in pages:
                problems.append(f"{test} names {cid}, which no contract page defines")
    return problems
