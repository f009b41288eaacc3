"""Load the DataFlow implementation under test (`--dataflow-impl=MODULE`)."""

import importlib
import importlib.metadata
from dataclasses import dataclass
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


def load(module_name: str) -> Implementation:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ImplementationError(
            f"--dataflow-impl={module_name}: the module cannot be imported ({type(exc).__name__}: {exc})"
        ) from None
    if not hasattr(module, "DataFlow"):
        raise ImplementationError(f"--dataflow-impl={module_name}: the module has no DataFlow class")
    distribution = _distribution_of(module_name)
    version = getattr(module, "__version__", None)
    if distribution:
        version = importlib.metadata.version(distribution)
    return Implementation(module_name, module, str(version or "unknown"), distribution)


def _distribution_of(module_name: str) -> str | None:
    top = module_name.split(".")[0]
    names = importlib.metadata.packages_distributions().get(top, [])
    return names[0] if names else None


def package_versions() -> dict[str, str]:
    """Versions of the packages a report should record."""
    versions = {}
    for name in (
        "kailash",
        "kailash-dataflow",
        "sqlalchemy",
        "asyncpg",
        "aiomysql",
        "aiosqlite",
        "psycopg",
        "pymysql",
        "pytest",
        "hypothesis",
    ):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions
