"""The access paths: the four ways a user reaches a DataFlow model's operations.

A conformance test speaks the node vocabulary (`path.node("UserCreateNode", {...})` returns what the node
returns); each path runs that operation its own way: a one-node workflow under LocalRuntime or
AsyncLocalRuntime, or the documented express call (`db.express` awaited on an event loop, or
`db.express_sync`), whose answer it reports in the node's shape. A test that needs more than every path
offers names the paths it applies to with `@pytest.mark.paths(...)`.
"""

from typing import Protocol, runtime_checkable

from kailash.workflow.builder import WorkflowBuilder

WORKFLOW_PATHS = ("local", "async")  # generated nodes under LocalRuntime / AsyncLocalRuntime
EXPRESS_PATHS = ("express", "express_sync")  # the direct API, async and sync
ALL_PATHS = (*WORKFLOW_PATHS, *EXPRESS_PATHS)


class WorkflowFailed(Exception):
    """The operation did not complete; the message is the implementation's error text."""


class NotOnThisPath(BaseException):
    """The test asked a path for something its documented API does not have: a defect of the test, which
    must name the paths it applies to with @pytest.mark.paths(...). Not an Exception, so that a test that
    expects an operation to fail (`except Exception`) cannot take it for the implementation's refusal."""


@runtime_checkable
class AccessPath(Protocol):
    name: str  # one of ALL_PATHS
    runs_workflows: bool  # whether run() takes whole workflows (transaction scopes, connections)
    db: object  # the bound DataFlow instance (None before bind)

    def bind(self, db) -> None:
        """The DataFlow instance the path calls (make_dataflow binds each instance it creates)."""

    def node(self, node_type: str, params: dict, *, db=None) -> dict:
        """Run one operation on the bound instance (or `db`); return the node-shaped output, or raise
        WorkflowFailed."""

    def run(self, builder: WorkflowBuilder, *, db=None) -> dict:
        """Run a whole workflow; return the outputs by node id (workflow paths only)."""

    def concurrently(self, calls: list[tuple[str, dict]], *, db=None, threads: int = 32) -> list:
        """Run many operations at once, the way this path's users do (tasks on one loop, or threads);
        return each output or exception, in order."""

    def close(self) -> None:
        """Release what the path holds (its runtime, its event loop)."""


# The class of each path name, registered by the modules that implement them (`implements`); the package
# imports them all (access/__init__.py), so that this module, which they import, imports none of them.
_PATH_CLASSES: dict[str, type] = {}


def implements(*names: str):
    """Class decorator: the access path class that `open_path` uses for these path names."""

    def register(cls):
        _PATH_CLASSES.update(dict.fromkeys(names, cls))
        return cls

    return register


def open_path(name: str) -> AccessPath:
    """A new access path by name."""
    if name not in _PATH_CLASSES:
        raise ValueError(f"unknown access path {name!r}; known: {ALL_PATHS}")
    return _PATH_CLASSES[name](name)
