"""Where a committed report came from: the kit's version and the contract's clause set (count and fingerprint),
so that a report made by another kit or for another clause set is known to be stale.

JSON reports carry it as `kit: {version}` and `contract: {clauses, fingerprint}` (the conformance report, the docs
report, the history's reports); Markdown and HTML reports carry one comment line, `stamp()`, that no reader sees."""

import json
import re
from pathlib import Path

from .. import __version__

MARK = "dataflow-conformance provenance:"
STAMP = re.compile(r"<!-- " + re.escape(MARK) + r" (\{.*?\}) -->")


def current() -> dict:
    """The kit's version and the contract it judges by, as reports record them."""
    from ..contract.clauses import fingerprint, load

    clauses = load()
    return {"kit": {"name": "dataflow-conformance", "version": __version__},
            "contract": {"clauses": len(clauses), "fingerprint": fingerprint(clauses)}}  # fmt: skip


def stamp(measured: dict[str, str] | None = None) -> str:
    """The comment line for a Markdown or HTML report: the kit, the contract and the versions of what it measured."""
    now = current()
    data = {"kit": now["kit"]["version"], "contract": now["contract"]["fingerprint"], "measured": measured or {}}
    return f"<!-- {MARK} {json.dumps(data, ensure_ascii=False, sort_keys=True)} -->"


def read(path: Path) -> dict | None:
    """`{"kit": version, "contract": fingerprint}` as the report records them, None when it records neither."""
    if path.name.endswith(".json.gz"):  # the history's reports (history/store.py)
        import gzip

        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    if path.name.endswith((".json", ".json.gz")):
        data = json.loads(text)
        kit, contract = data.get("kit") or {}, data.get("contract") or {}
        if not kit and not contract:
            return None
        return {"kit": kit.get("version"), "contract": contract.get("fingerprint")}
    found = STAMP.search(text)
    if not found:
        return None
    data = json.loads(found.group(1))
    return {"kit": data.get("kit"), "contract": data.get("contract")}


def staleness(path: Path, judges_clauses: bool = True) -> str:
    """Why the report at `path` is stale ("" when it is current). A report that judges clauses is stale when the kit
    or the contract changed; a measurement (`judges_clauses=False`: a benchmark, a load test) only when the kit did."""
    found, now = read(path), current()
    if found is None:
        return "it records no kit version and no contract fingerprint"
    problems = []
    if found["kit"] != now["kit"]["version"]:
        problems.append(f"kit {found['kit']} (now {now['kit']['version']})")
    if judges_clauses and found["contract"] != now["contract"]["fingerprint"]:
        problems.append(f"contract {found['contract']} (now {now['contract']['fingerprint']})")
    return "; ".join(problems)
