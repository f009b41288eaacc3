"""Decisions about a corpus the runner's user does not own, kept beside the command instead of in its docs.

A TOML file (see corpora/kailash-dataflow.toml, bundled as `--decisions kailash-dataflow`):

    [corpus]
    include = ["docs/guides/*"]      # fnmatch globs on page names ("*" crosses folders)
    exclude = []
    [packages]                       # modules that are packages a reader installs: a missing one is a skip
    pgvector = "pgvector (PostgreSQL vector types)"
    [environment]
    database_url = ["DATABASE_URL"]  # variables that hold the page's database URL while it runs
    [[block]]                        # one block: page, the line of its opening fence, decision, reason
    page = "docs/api/nodes.md"
    line = 32
    decision = "fragment"            # fragment | skip (not run) | run (run although detected as a fragment)
    reason = "shows the node's result, not code"
    [[program]]                      # blocks a reader runs as another program: a namespace of their own
    page = "docs/guides/from-sqlalchemy.md"
    name = "SQLAlchemy"
    blocks = [24, 146]               # the lines of their opening fences
    reason = "the SQLAlchemy side of each comparison: the reader's existing application"

Every decision needs a reason, and a decision that names no Python block of a page in the run is an
error (the file cannot silently drift from the corpus it describes).
"""

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DECISIONS = ("fragment", "skip", "run")
BUNDLED = "corpora"


class DecisionsError(Exception):
    pass


@dataclass(frozen=True)
class Decision:
    decision: str  # fragment | skip | run; for a program: its name
    reason: str


@dataclass
class Decisions:
    source: str = ""
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)
    database_url_variables: list[str] = field(default_factory=lambda: ["DATABASE_URL"])
    blocks: dict[tuple[str, int], Decision] = field(default_factory=dict)
    programs: dict[tuple[str, int], Decision] = field(default_factory=dict)  # (page, line) -> (program, reason)

    def for_page(self, page: str) -> dict[int, Decision]:
        return {line: decision for (name, line), decision in self.blocks.items() if name == page}

    def programs_of(self, page: str) -> dict[int, list[str]]:
        """line -> [program, reason] of the page's blocks that run in a program (a namespace) of their own."""
        return {line: [p.decision, p.reason] for (name, line), p in self.programs.items() if name == page}

    def check(self, python_lines: dict[str, set[int]]) -> None:
        """Refuse decisions that name no Python block of a page in the run (python_lines: page -> lines)."""
        named = [*self.blocks, *self.programs]
        stale = [f"{page}:{line}" for page, line in named if page in python_lines and line not in python_lines[page]]
        if stale:
            raise DecisionsError(
                f"{self.source}: no Python block starts at {', '.join(sorted(stale))}; update the file"
            )


def bundled() -> list[str]:
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files(__package__).joinpath(BUNDLED).iterdir()
        if p.name.endswith(".toml")
    )


def load(name_or_path: str | None) -> Decisions:
    if name_or_path is None:
        return Decisions()
    path = Path(name_or_path)
    if not path.exists() and name_or_path in bundled():
        text = resources.files(__package__).joinpath(BUNDLED, f"{name_or_path}.toml").read_text(encoding="utf-8")
    elif path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        raise DecisionsError(f"no decisions file {name_or_path} (a path, or one of the kit's: {', '.join(bundled())})")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DecisionsError(f"{name_or_path}: not valid TOML: {exc}") from None
    corpus, environment = data.get("corpus", {}), data.get("environment", {})
    decisions = Decisions(
        source=str(name_or_path),
        include=list(corpus.get("include", [])),
        exclude=list(corpus.get("exclude", [])),
        packages={str(k): str(v) for k, v in data.get("packages", {}).items()},
        database_url_variables=list(environment.get("database_url", ["DATABASE_URL"])),
    )
    for index, entry in enumerate(data.get("block", []), 1):
        where = f"{name_or_path}: [[block]] #{index}"
        missing = [key for key in ("page", "line", "decision", "reason") if not str(entry.get(key, "")).strip()]
        if missing:
            raise DecisionsError(f"{where} lacks {', '.join(missing)} (every decision needs a reason)")
        if entry["decision"] not in DECISIONS:
            raise DecisionsError(f"{where}: decision {entry['decision']!r} is not one of {', '.join(DECISIONS)}")
        key = (str(entry["page"]), int(entry["line"]))
        if key in decisions.blocks:
            raise DecisionsError(f"{where}: {key[0]}:{key[1]} is decided twice")
        decisions.blocks[key] = Decision(entry["decision"], str(entry["reason"]).strip())
    for index, entry in enumerate(data.get("program", []), 1):
        where = f"{name_or_path}: [[program]] #{index}"
        missing = [key for key in ("page", "name", "blocks", "reason") if not str(entry.get(key, "")).strip()]
        if missing:
            raise DecisionsError(f"{where} lacks {', '.join(missing)} (every decision needs a reason)")
        if not isinstance(entry["blocks"], list) or not all(isinstance(line, int) for line in entry["blocks"]):
            raise DecisionsError(f"{where}: blocks must be a list of line numbers (the blocks' opening fences)")
        for line in entry["blocks"]:
            key = (str(entry["page"]), line)
            if key in decisions.programs:
                raise DecisionsError(f"{where}: {key[0]}:{line} is in two programs")
            decisions.programs[key] = Decision(str(entry["name"]), str(entry["reason"]).strip())
    return decisions
