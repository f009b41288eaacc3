"""dataflow_conformance: the DataFlow conformance kit.

`pytest -p dataflow_conformance` (or `--dataflow-impl=MODULE`) runs the conformance pack; installing the
kit alone only adds the pack's `--dataflow-*` options to pytest (dataflow_conformance.plugin.options).
"""

__version__ = "0.3.0"  # the one version source: pyproject.toml, the release tag v0.3.0, CHANGELOG.md

# What `-p dataflow_conformance` loads: the options (also auto-loaded), the pack and its fixtures.
pytest_plugins = [
    "dataflow_conformance.plugin.options",
    "dataflow_conformance.plugin.pack",
    "dataflow_conformance.plugin.fixtures",
]
