"""Errors raised by the reference implementation.

Every message names the model, the field and the problem, so the error is useful
even after Kailash wraps it in a workflow error.
"""


class DataFlowError(Exception):
    """Base class of every error this implementation raises on purpose."""


class ConfigurationError(DataFlowError):
    """The DataFlow instance was constructed or configured wrongly (e.g. a bad URL)."""


class ModelDefinitionError(DataFlowError):
    """A @db.model class cannot be mapped to a table."""


class SchemaError(DataFlowError):
    """The tables in the database do not match the models and cannot be (or may not be) migrated."""


class ValidationError(DataFlowError):
    """Input was rejected before anything was written."""

    def __init__(self, model: str, field: str | None, problem: str):
        self.model, self.field, self.problem = model, field, problem
        where = f"{model}.{field}" if field else model
        super().__init__(f"{where}: {problem}")


class RecordNotFoundError(DataFlowError):
    """A read asked for a record that does not exist."""


class DatabaseError(DataFlowError):
    """The database refused a statement; the transaction was rolled back."""


class IntegrityError(DatabaseError):
    """A unique, not-null or foreign-key constraint was violated; nothing was written."""


class DeletedRecordError(IntegrityError):
    """A write named the unique key of a soft-deleted record, which keeps its key; nothing was written."""


class ConnectionLostError(DatabaseError):
    """The connection broke (network failure, killed session); the server rolled its transaction back."""


class OutcomeUnknownError(ConnectionLostError):
    """The connection broke while COMMIT was on its way: the server may or may not have committed."""


class PoolTimeoutError(DatabaseError):
    """Every pooled connection stayed busy for longer than pool_timeout; nothing was run."""


class StatementTimeoutError(DatabaseError):
    """The database did not answer within statement_timeout; the connection was discarded."""


class ConflictError(DatabaseError):
    """The server aborted the transaction to break a deadlock or a serialisation conflict."""


class TenantError(DataFlowError):
    """A multi-tenant operation ran with no tenant bound, or with a tenant that is not registered."""


class TransactionError(DataFlowError):
    """A transaction node was used out of order (no open scope, unknown savepoint, already ended)."""
