"""Docs as tests: Sybil runs every fenced python block of README.md and docs/**/*.md
(`pytest README.md docs`). Blocks of one document share a namespace and run in order."""

try:
    from sybil import Sybil
    from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser
except ImportError:  # Sybil comes with the dev extra; running the conformance pack does not need it
    Sybil = None

if Sybil is not None:
    pytest_collect_file = Sybil(
        parsers=[PythonCodeBlockParser(), SkipParser()],
        patterns=["README.md", "docs/**/*.md"],
    ).pytest()
