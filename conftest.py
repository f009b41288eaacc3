"""Docs as tests: the code blocks of README.md and docs/**/*.md run under pytest (`nox -s doctests`,
or `pytest README.md docs`); doctests/plugin.py explains how.

The hooks are imported rather than listed in `pytest_plugins`: when the kit is installed in editable
mode, a pack run from another project's directory also loads this file (it sits above the suite),
and pytest refuses `pytest_plugins` in a conftest that is not at the rootdir."""

from doctests.plugin import (  # noqa: F401 - pytest finds hooks by name
    pytest_collect_file,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_call,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
