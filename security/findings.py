"""One row of the security report: a claim, one side of it, what was tried and the verdict. The verdict
words are the comparisons' (harness/report.py)."""

import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness.report import FAILS, HOLDS, UNKNOWN

CLAIMS_FILE = Path(__file__).parent / "claims.toml"
VECTORS_FILE = Path(__file__).parent / "vectors.toml"
DJANGO, KAILASH = "Django", "Kailash SDK"
__all__ = ["DJANGO", "FAILS", "HOLDS", "KAILASH", "UNKNOWN", "Finding", "claims", "package", "vectors"]


@dataclass
class Finding:
    claim: str  # id in claims.toml
    side: str  # DJANGO or KAILASH
    component: str  # what was used: import path, package and version, built in or third party
    tried: str
    measured: str
    verdict: str  # HOLDS, FAILS or UNKNOWN
    reason: str


def claims() -> dict:
    return {claim["id"]: claim for claim in tomllib.loads(CLAIMS_FILE.read_text())["claims"]}


def vectors() -> dict:
    return tomllib.loads(VECTORS_FILE.read_text())


def package(name: str) -> str:
    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"{name} (not installed)"
