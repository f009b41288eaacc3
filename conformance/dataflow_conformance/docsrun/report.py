"""A docs run's result: every block's outcome per page, the totals, and the failures grouped by root cause."""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

OUTCOMES = ("passed", "warned", "failed", "blocked", "fragment", "skipped", "not-python")
RAN = ("passed", "warned", "failed", "blocked")  # the blocks that were run (a blocked one ran into its cascade)
_LINE_NOTE = re.compile(r"\s*\(line \d+\)")


@dataclass
class PageResult:
    name: str
    blocks: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""  # e.g. its clean-up was stopped
    harness_error: str = ""  # the page's process failed outside any block

    def counts(self) -> Counter:
        counts = Counter(block["outcome"] for block in self.blocks)
        counts["blocks"] = len(self.blocks)
        return counts


@dataclass
class DocsReport:
    implementation: str
    version: str
    database: str
    pages: list[PageResult]
    corpus: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    seconds: float = 0.0
    distribution: str | None = None  # the implementation's distribution (kailash-dataflow), when it has one

    def blocks(self):
        for page in self.pages:
            for block in page.blocks:
                yield page, block

    def totals(self) -> dict:
        counts = Counter(block["outcome"] for _, block in self.blocks())
        python = sum(counts[o] for o in OUTCOMES if o != "not-python")
        return {
            "pages": len(self.pages),
            "blocks": sum(counts.values()),
            "python": python,
            "run": sum(counts[o] for o in RAN),
            **{outcome: counts[outcome] for outcome in OUTCOMES},
            "rewritten": sum(1 for _, block in self.blocks() if block.get("rewritten")),
            "harness_errors": sum(1 for page in self.pages if page.harness_error),
        }

    def reasons(self, outcome: str) -> list[tuple[str, int]]:
        """The details of the blocks with an outcome (skip reasons, fragment kinds), most frequent first."""
        counts = Counter(
            _LINE_NOTE.sub("", block.get("detail", "")) for _, block in self.blocks() if block["outcome"] == outcome
        )
        return counts.most_common()

    def causes(self) -> list[dict]:
        """The failures grouped by root cause, most frequent first, each with its pages and lines."""
        groups: dict[str, dict] = defaultdict(lambda: {"blocks": [], "where": Counter(), "pages": set()})
        for page, block in self.blocks():
            if block["outcome"] != "failed":
                continue
            cause = block.get("cause") or {"error": block.get("detail", "?"), "where": page.name}
            group = groups[cause["error"]]
            group["blocks"].append(f"{page.name}:{block['line']}")
            group["where"][cause["where"]] += 1
            group["pages"].add(page.name)
        causes = [
            {
                "error": error,
                "count": len(group["blocks"]),
                "pages": len(group["pages"]),
                "where": [w for w, _ in group["where"].most_common(3)],
                "blocks": group["blocks"],
            }
            for error, group in groups.items()
        ]
        return sorted(causes, key=lambda c: (-c["count"], c["error"]))

    def cascades(self) -> list[dict]:
        """The blocks that blocked others, most blocking first."""
        counts: Counter = Counter()
        for page, block in self.blocks():
            if block["outcome"] == "blocked":
                counts[(page.name, block["blocked_by"])] += 1
        return [{"block": f"{name}:{line}", "blocks": n} for (name, line), n in counts.most_common()]

    def top_share(self, n: int = 10) -> float:
        """The share of failures that the n most frequent root causes explain."""
        causes = self.causes()
        failed = sum(c["count"] for c in causes)
        return sum(c["count"] for c in causes[:n]) / failed if failed else 0.0

    def exit_status(self) -> int:
        """0: every block that ran passed; 1: a block failed; 3: the runner failed on a page (harness error)."""
        totals = self.totals()
        if totals["harness_errors"]:
            return 3
        return 1 if totals["failed"] else 0

    def as_dict(self) -> dict:
        from ..report.provenance import current

        return {
            **current(),  # the kit and contract that made it: a committed report is checked against them
            "implementation": {
                "module": self.implementation,
                "distribution": self.distribution,
                "version": self.version,
            },
            "database": self.database,
            "corpus": self.corpus,
            "options": self.options,
            "seconds": self.seconds,
            "totals": self.totals(),
            "skip_reasons": dict(self.reasons("skipped")),
            "fragment_kinds": dict(self.reasons("fragment")),
            "causes": self.causes(),
            "top10_share": round(self.top_share(), 3),
            "pages": [
                {
                    "name": page.name,
                    "seconds": page.seconds,
                    "counts": dict(page.counts()),
                    **({"note": page.note} if page.note else {}),
                    **({"harness_error": page.harness_error} if page.harness_error else {}),
                    "blocks": page.blocks,
                }
                for page in self.pages
            ],
        }
