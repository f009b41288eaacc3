"""The Kailash core the reference needs, checked when it is imported (before any node is defined)."""

import importlib.metadata

MINIMUM = (2, 63)

_installed = importlib.metadata.version("kailash")
if tuple(int(part) for part in _installed.split(".")[:2] if part.isdigit()) < MINIMUM:
    raise ImportError(
        f"dataflow_reference needs kailash >= {'.'.join(map(str, MINIMUM))} (installed: {_installed}); "
        f"pip install 'kailash>={'.'.join(map(str, MINIMUM))},<3'"
    )
