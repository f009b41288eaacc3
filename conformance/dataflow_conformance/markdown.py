"""Render a conformance report (the JSON dict) as Markdown."""


def render(data: dict) -> str:
    impl = data["implementation"]
    backends = [b["name"] for b in data["backends"]]
    lines = [
        f"# Conformance report: {impl['module']} {impl['version']}",
        "",
        f"Verdict: **{data['verdict']}**" + ("" if data["complete"] else " (partial run)"),
        f"Generated {data['generated']} on Python {data['environment']['python']}.",
        "",
        "| backend | source | server |",
        "|---|---|---|",
        *[f"| {b['name']} | {b['source']} | {b['server_version']} |" for b in data["backends"]],
        "",
        "| clause | level | " + " | ".join(backends) + " |",
        "|---|---|" + "---|" * len(backends),
    ]
    for clause_id, entry in data["clauses"].items():
        cells = [entry["results"].get(b, "-") for b in backends]
        lines.append(f"| {clause_id} | {entry['level']} | " + " | ".join(cells) + " |")
    if data.get("paths"):
        lines += ["", "Tests passed per access path: " + ", ".join(f"{k} {v}" for k, v in data["paths"].items())]
    failures = [t for t in data["tests"] if t["outcome"] not in ("passed", "skipped")]
    if failures:
        lines += ["", "## Tests that did not pass", ""]
        lines += [f"- `{t['test']}` ({t['outcome']}): {t['message']}" for t in failures]
    packages = ", ".join(f"{k} {v}" for k, v in data["environment"]["packages"].items())
    lines += [
        "",
        f"Packages: {packages}",
        "",
        "Reproduce: set `DFC_POSTGRESQL_URL` / `DFC_MYSQL_URL`, then `nox -s reports` (both implementations), or "
        f"`pytest -p dataflow_conformance --dataflow-impl={impl['module']} -n auto` (add `--expectations FILE` "
        "for an implementation with known failures).",
        "",
    ]
    return "\n".join(lines)
