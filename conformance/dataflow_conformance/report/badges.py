"""shields.io endpoint badges (https://shields.io/badges/endpoint-badge) from a conformance report."""

import json
from pathlib import Path


def badge(report: dict, backend: str) -> dict:
    results = [entry["results"].get(backend) for entry in report["clauses"].values()]
    ran = [r for r in results if r is not None and r != "skipped"]
    passed = sum(1 for r in ran if r == "passed")
    label = f"{report['implementation']['module']} on {backend}"
    if not ran:  # nothing was checked on this backend: say so, never "0/0"
        return {"schemaVersion": 1, "label": label, "message": "no clause checked", "color": "lightgrey"}
    color = "brightgreen" if passed == len(ran) else "yellow" if passed >= 0.8 * len(ran) else "red"
    return {"schemaVersion": 1, "label": label, "message": f"{passed}/{len(ran)} clauses", "color": color}


def write_badges(report: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for backend in (b["name"] for b in report["backends"]):
        path = out / f"{report['implementation']['module']}-{backend}.json"
        path.write_text(json.dumps(badge(report, backend), indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written
