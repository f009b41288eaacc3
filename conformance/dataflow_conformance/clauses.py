"""The clause registry: read from the contract pages (docs/contract/*.md).

The pages are the single source of truth. The package ships `clauses.json`, generated
from them by `dataflow-conformance clauses --write` and checked against them by a self-test.
"""

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

REGISTRY_FILE = Path(__file__).with_name("clauses.json")
_HEADING = re.compile(
    r"^### (?P<id>[A-Z]+-\d{3}) · (?P<level>MUST|SHOULD)(?: · capability `(?P<capability>[a-z_]+)`)?\s*$"
)
_SOURCE = re.compile(r"^\*Source:\*\s*(?P<source>.+)$")


@dataclass(frozen=True)
class Clause:
    id: str
    level: str  # MUST (core profile) | SHOULD (extended profile, gated by a capability)
    text: str
    source: str
    capability: str | None
    page: str

    @property
    def area(self) -> str:
        return self.id.split("-")[0]


def parse_pages(contract_dir: Path) -> dict[str, Clause]:
    clauses: dict[str, Clause] = {}
    for page in sorted(contract_dir.glob("*.md")):
        current, body, source = None, [], ""
        lines = page.read_text(encoding="utf-8").splitlines() + ["### END"]
        for line in lines:
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
                        current["id"], current["level"], text, source, current["capability"], page.name
                    )
                current, body, source = None, [], ""
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
            elif line.startswith("```"):
                current["in_code"] = not current.get("in_code")
            elif not current.get("in_code") and not source and line.strip():
                body.append(line.strip())
        # an example block ends the rule sentence; nothing else is needed from it here
    return clauses


def load() -> dict[str, Clause]:
    data = json.loads(REGISTRY_FILE.read_text(encoding="utf-8"))
    return {item["id"]: Clause(**item) for item in data}


def dump(clauses: dict[str, Clause]) -> str:
    return (
        json.dumps([asdict(c) for c in sorted(clauses.values(), key=lambda c: c.id)], indent=1, ensure_ascii=False)
        + "\n"
    )
