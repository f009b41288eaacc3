"""The access paths: the protocol and the path names (protocol.py), the workflow paths (workflow.py) and the
express paths (express.py). Importing the package registers every path with `protocol.open_path`."""

from . import express, workflow  # noqa: F401 - each registers the paths it implements
