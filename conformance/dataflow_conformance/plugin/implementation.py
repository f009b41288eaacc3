"""Load the DataFlow implementation under test (`--dataflow-impl=MODULE`)."""

import importlib
import importlib.metadata
import inspect
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

CAPABILITIES_ATTRIBUTE = "CONFORMANCE_CAPABILITIES"


class ImplementationError(Exception):
    pass


@dataclass
class Implementation:
    module_name: str
    module: ModuleType
    version: str
    distribution: str | None

    @property
    def DataFlow(self):  # noqa: N802 - mirrors the documented class name
        return self.module.DataFlow

    @property
    def capabilities(self) -> set[str]:
        """Extended-profile capabilities the implementation declares (`CONFORMANCE_CAPABILITIES` in its
        module); SHOULD clauses gated by any other capability are skipped, never failed."""
        declared = getattr(self.module, CAPABILITIES_ATTRIBUTE, ())
        return {str(name) for name in declared}

    @property
    def packages(self) -> set[str]:
        """The top-level packages the implementation's code lives in: the module's own, and those that define
        the DataFlow class and its bases. An adapter that re-exports or subclasses another implementation's
        class is judged with that implementation's code (ERR-007, root causes)."""
        classes = [cls for cls in inspect.getmro(self.DataFlow) if cls.__module__ != "builtins"]
        return {self.module_name.split(".")[0], *(cls.__module__.split(".")[0] for cls in classes)}


def load(module_name: str, invocation_dir: Path | None = None) -> Implementation:
    """Import the module; one in the directory pytest was started from is found too (as with
    `python -m pytest`), so `--dataflow-impl=my_dataflow` finds ./my_dataflow.py."""
    if invocation_dir is not None and _defined_in(module_name, invocation_dir) and str(invocation_dir) not in sys.path:
        sys.path.insert(0, str(invocation_dir))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0]:
            raise ImplementationError(_import_failure(module_name, exc)) from None
        raise ImplementationError(
            f"--dataflow-impl={module_name}: no module {module_name!r} on the path; install the implementation "
            f"(pip install ...) or run pytest from the directory that holds {module_name.split('.')[0]}.py"
        ) from None
    except BaseException as exc:  # its own import failed: show where
        raise ImplementationError(_import_failure(module_name, exc)) from None
    if not hasattr(module, "DataFlow"):
        raise ImplementationError(f"--dataflow-impl={module_name}: the module has no DataFlow class")
    if not inspect.isclass(module.DataFlow):
        found = type(module.DataFlow).__name__
        raise ImplementationError(
            f"--dataflow-impl={module_name}: {module_name}.DataFlow is a {found} ({module.DataFlow!r:.80}), not a "
            "class: the pack needs the class users instantiate as `db = DataFlow(url)`"
        )
    distribution = _distribution_of(module_name)
    version = getattr(module, "__version__", None)
    if distribution:
        version = importlib.metadata.version(distribution)
    return Implementation(module_name, module, str(version or "unknown"), distribution)


def _defined_in(module_name: str, directory: Path) -> bool:
    top = module_name.split(".")[0]
    return (directory / f"{top}.py").is_file() or (directory / top / "__init__.py").is_file()


def _import_failure(module_name: str, exc: BaseException) -> str:
    trace = "".join(traceback.format_exception(exc)).rstrip()
    return f"--dataflow-impl={module_name}: importing the module failed{os.linesep}{trace}"


def _distribution_of(module_name: str) -> str | None:
    top = module_name.split(".")[0]
    names = importlib.metadata.packages_distributions().get(top, [])
    return names[0] if names else None
