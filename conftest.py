"""Docs as tests: the code blocks of README.md and docs/**/*.md run under pytest (`nox -s doctests`,
or `pytest README.md docs`); doctests/plugin.py explains how."""

pytest_plugins = ["doctests.plugin"]
