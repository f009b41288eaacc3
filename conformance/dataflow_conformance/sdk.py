"""The Kailash SDK as the kit uses it, across the cores that DataFlow releases require.

DataFlow releases pin their own Kailash core (kailash-dataflow 2.0 needs kailash >= 2.2, 2.20 needs
>= 2.63), and the pack must run on whichever core the implementation under test brings. What differs
between those cores is handled here, once.
"""

import importlib.metadata

from kailash.nodes.base import NodeRegistry
from kailash.runtime.local import LocalRuntime

# The oldest core the pack runs on: what kailash-dataflow 1.8 to 2.x (April to November 2026) require.
MINIMUM_CORE = (2, 2)


class UnsupportedCore(Exception):
    pass


def core_version() -> str:
    return importlib.metadata.version("kailash")


def check_core() -> None:
    """An UnsupportedCore error naming the installed core and the oldest supported one."""
    version = core_version()
    numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if numbers < MINIMUM_CORE:
        wanted = ".".join(map(str, MINIMUM_CORE))
        raise UnsupportedCore(
            f"the installed Kailash core is {version}; the pack needs kailash >= {wanted} (the core of DataFlow "
            f"1.8 and later): install a newer core with the implementation, e.g. pip install 'kailash>={wanted}'"
        )


def register_node(cls, name: str) -> None:
    """Register a node class under `name`, replacing an earlier registration (cores before 2.23 replace
    without being asked and have no allow_override)."""
    try:
        NodeRegistry.register(cls, alias=name, allow_override=True)
    except TypeError:
        NodeRegistry.register(cls, alias=name)


def open_local_runtime() -> LocalRuntime:
    """A LocalRuntime without run tracking, entered as a context manager where the core offers one."""
    runtime = LocalRuntime(enable_monitoring=False)
    return runtime.__enter__() if hasattr(runtime, "__enter__") else runtime


def close_local_runtime(runtime) -> None:
    """Leave a runtime opened by open_local_runtime, where the core can."""
    if hasattr(runtime, "__exit__"):
        runtime.__exit__(None, None, None)
