"""dataflow_reference: a small, honest DataFlow on SQLAlchemy Core and real Kailash nodes."""

import importlib.metadata

from . import (
    core_check,  # noqa: F401 - first: an older Kailash core is refused with a clear error
    transaction_nodes,  # noqa: F401 - registers the transaction nodes with Kailash
)
from .core import DataFlow
from .errors import (
    ConfigurationError,
    ConflictError,
    ConnectionLostError,
    DatabaseError,
    DataFlowError,
    IntegrityError,
    ModelDefinitionError,
    OutcomeUnknownError,
    PoolTimeoutError,
    RecordNotFoundError,
    SchemaError,
    StatementTimeoutError,
    TenantError,
    TransactionError,
    ValidationError,
)

# The reference ships in the kit's distribution: one version, the kit's (dataflow_conformance.__version__).
__version__ = importlib.metadata.version("dataflow-conformance")

# Extended-profile capabilities this implementation claims (see docs/contract/README.md).
CONFORMANCE_CAPABILITIES = frozenset({"express_in_transaction", "row_level_security", "statement_timeout"})
__all__ = [
    "ConfigurationError",
    "ConflictError",
    "ConnectionLostError",
    "DataFlow",
    "DataFlowError",
    "DatabaseError",
    "IntegrityError",
    "ModelDefinitionError",
    "OutcomeUnknownError",
    "PoolTimeoutError",
    "RecordNotFoundError",
    "SchemaError",
    "StatementTimeoutError",
    "TenantError",
    "TransactionError",
    "ValidationError",
    "__version__",
]
