"""Docs as tests: every Python block of README.md and docs/**/*.md runs under pytest (see plugin.py)."""
