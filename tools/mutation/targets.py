"""What is mutated and what runs against each mutant.

A target is one behaviour module of the reference (`reference/dataflow_reference/`): code that decides what is
stored, read, filtered, sorted, counted, named, committed or rolled back. Each maps to the suite modules that
exercise it (a `-k` expression over the pack's module names), and to the backends its code runs on: SQLite,
and a server where some of the code runs only there (a dialect's own module; the connection-loss branches of
the error mapping).

The other modules are left out (EXCLUDED says why): their mutants change when or how fast, not what.
"""

from dataclasses import dataclass

# Suite modules, by what they check (conformance/dataflow_conformance/suite/test_<name>.py).
READS_AND_WRITES = ("crud", "query", "model", "types", "errors", "consistency")
EVERY_PATH = ("crud", "query", "bulk", "nodes", "transactions", "tenant")


@dataclass(frozen=True)
class Target:
    module: str  # the path under reference/dataflow_reference/, without .py
    suites: tuple[str, ...]  # suite modules without `test_`
    backends: tuple[str, ...] = ("sqlite",)
    # Test workers (pytest-xdist; at most two, the machines share their cores): one where the mapped suites run
    # in seconds and starting a second worker costs more than it saves, and where most mutants are killed by one
    # of the first tests (then two workers' start-up is most of the mutant's time: on a loaded 2-core machine,
    # 89 s against 32 s for two tests): several Cosmic Ray workers (`--workers`) then run mutants side by side.
    workers: int = 2
    # Code that runs beneath the access paths, with the same calls whichever path reached it: each test runs on
    # `local` and `express` only, not again on their twins `async` and `express_sync` (twins.py says why).
    twins: bool = False
    # Suites for the backends after the first, where part of the module runs only on a server (its limits, its
    # collations): the mutants SQLite did not kill run them there (default: `suites`). `module::name` narrows a
    # suite module to the tests whose names contain `name`.
    server_suites: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"dataflow_reference/{self.module}.py"

    @property
    def keyword(self) -> str:
        """The pytest -k expression that selects the mapped suite modules."""
        return " or ".join(f"test_{suite}.py" for suite in self.suites)

    def keyword_on(self, backend: str) -> str:
        """The -k expression on one backend: the server suites on a server after the first backend."""
        if backend == self.backends[0] or not self.server_suites:
            return self.keyword
        return " or ".join(_selection(suite) for suite in self.server_suites)


def _selection(suite: str) -> str:
    """The -k term of a server suite: `module`, or `module::name` for its tests whose names contain `name`."""
    module, _, name = suite.partition("::")
    return f"(test_{module}.py and {name})" if name else f"test_{module}.py"


_DIALECT_SUITES = ("types", "errors", "transactions", "tenant", "migrate", "bulk", "crud")

TARGETS = {
    t.module: t
    for t in (
        # An upsert's retry after a conflict the server reports (a deadlock aborts the scope's whole transaction)
        # runs only on a server, and shows on MariaDB, which goes on with a new transaction: TXN there, and upserts
        # of one key racing. Which unique fields clashed is told from the model where the driver's message names
        # only the index: ERR there.
        Target(
            "crud",
            (*READS_AND_WRITES, "tenant", "safety"),
            ("sqlite", "mysql"),
            server_suites=("transactions", "errors", "query::test_concurrent_upserts"),
        ),
        Target("bulk", ("bulk", "tenant", "model", "errors")),
        Target("batches", ("bulk", "errors")),
        Target("fastinsert", ("bulk", "types", "model")),  # model: the timestamps it stores (MODEL-004)
        # Where NULL sorts (the dialect's nulls_sort_high: PostgreSQL) is decided only on a server: QUERY there.
        Target(
            "query",
            ("query", "safety", "tenant"),
            ("sqlite", "postgresql"),
            twins=True,
            workers=1,
            server_suites=("query",),
        ),
        Target("fieldtypes", ("types", "model", "errors", "crud")),
        # The identifier limits (check_identifier_lengths) and the servers' column types and collations run only
        # on a server: MIGRATE-006 and the model suite there. The multi-tenant columns and per-tenant unique
        # indexes (build_table) are TENANT's.
        Target(
            "model",
            ("model", "conf", "types", "tenant"),
            ("sqlite", "postgresql", "mysql"),
            twins=True,
            workers=1,
            server_suites=("model", "migrate"),
        ),
        Target("schema", ("migrate", "model", "tenant")),
        Target("tenancy", ("tenant",)),
        Target("transactions", ("transactions", "consistency")),
        Target("transaction_nodes", ("transactions",), workers=1),
        Target("express", EVERY_PATH),
        # model: a model's own id as a Create input; errors: unknown inputs refused, naming the model
        Target("nodes", ("nodes", "crud", "transactions", "tenant", "model", "errors")),
        Target("operations", ("nodes", "crud", "bulk")),
        # Its connection-loss branches run only where FAULT's proxy can cut a server's connection.
        Target("driver_errors", ("errors", "fault"), ("sqlite", "postgresql"), workers=1),
        Target("core", ("conf", "nodes", "tenant", "transactions")),
        Target("database", ("conf", "transactions", "migrate", "pool")),
        Target("dialects/base", _DIALECT_SUITES),
        Target("dialects/sqlite", _DIALECT_SUITES),
        Target("dialects/sqlite_thread", EVERY_PATH),  # every statement's rows and counts on SQLite
        Target("dialects/postgresql", _DIALECT_SUITES, ("postgresql",)),
        Target("dialects/mysql", _DIALECT_SUITES, ("mysql",)),
    )
}


EXCLUDED = {
    "__init__": "exports and the import check of the Kailash core",
    "core_check": "the import check of the Kailash core",
    "errors": "exception classes; which one is raised is decided (and mutated) where it is raised",
    "engines": "connection pools per event loop: when connections open and close (POOL, NODE-004)",
    "runner": "which event loop runs an operation (NODE-004)",
    "slots": "a cross-loop semaphore: waiting, not results (POOL)",
    "deadline": "the bound on closing a loop (CONF-007)",
    "urls": "URL forms to driver URLs: a wrong one fails to connect at all (CONF)",
    "dialects/__init__": "the table of dialects",
}


def session_name(module: str) -> str:
    """The file name (without suffix) of a module's session database and config."""
    return module.replace("/", "-")
