"""The pack's state for one pytest run, typed, and registered as a plugin (as xdist's DSession is).

Built once in the controller from the options; xdist workers receive the resolved backends through
`workerinput` (pytest_configure_node), so a container started by the controller is reused by every worker
and no environment variable carries state between processes.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .. import sdk
from ..backends.resolve import Backend, BackendUnavailable, requested_backends, resolve
from ..contract import capabilities as capabilities_mod
from ..contract import clauses as clauses_mod
from ..report import expectations as expectations_mod
from . import implementation as implementation_mod

PLUGIN_NAME = "dataflow-conformance-session"
_WORKER_BACKENDS = "dataflow_conformance_backends"  # key in xdist's workerinput
_WORKER_STALE = "dataflow_conformance_stale"  # keys in xdist's workeroutput
_WORKER_DESELECTED = "dataflow_conformance_deselected"
DEFAULT_IMPLEMENTATION = "dataflow_reference"


@dataclass
class ConformanceSession:
    implementation: implementation_mod.Implementation
    backends: list[Backend]
    clauses: dict[str, clauses_mod.Clause]
    capabilities: set[str]  # what the implementation declares plus what the run claims
    expectations: expectations_mod.Expectations
    containers: list = field(default_factory=list)  # testcontainers started for this run (controller only)
    stale_expectations: list[dict] = field(default_factory=list)  # entries naming no test (report/gate.py)
    tests_deselected: int = 0  # the pack's tests that -k / -m deselected: the run is partial

    @classmethod
    def from_config(cls, config) -> "ConformanceSession":
        """Everything the options ask for, checked; a problem is a usage error that says what to fix."""
        option = config.option
        try:
            sdk.check_core()
            implementation = implementation_mod.load(
                option.dataflow_impl or DEFAULT_IMPLEMENTATION, invocation_dir=Path(config.invocation_params.dir)
            )
            claimed = capabilities_mod.check(
                implementation.capabilities, where=f"{implementation.module_name}.CONFORMANCE_CAPABILITIES"
            ) | capabilities_mod.check(option.dataflow_capability, where="--dataflow-capability")
            expectations = expectations_mod.Expectations.empty()
            if option.dataflow_expectations:
                expectations = expectations_mod.load(expectations_mod.locate(option.dataflow_expectations))
            worker_input = getattr(config, "workerinput", None)
            containers = []
            if worker_input is None:
                backends, containers = resolve(requested_backends(option.dataflow_db), option.dataflow_dburi)
            else:
                backends = [Backend(**item) for item in json.loads(worker_input[_WORKER_BACKENDS])]
        except (
            implementation_mod.ImplementationError,
            BackendUnavailable,
            capabilities_mod.UnknownCapability,
            expectations_mod.ExpectationsError,
            sdk.UnsupportedCore,
        ) as exc:
            raise pytest.UsageError(f"dataflow-conformance: {exc}") from None
        return cls(implementation, backends, clauses_mod.load(), claimed, expectations, containers)

    @property
    def backend_names(self) -> list[str]:
        return [backend.name for backend in self.backends]

    # -- hooks -----------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        """xdist: hand each worker the backends the controller resolved (and the containers it started)."""
        node.workerinput[_WORKER_BACKENDS] = json.dumps([backend.as_dict() for backend in self.backends])

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        """xdist: the stale entries and the deselected count a worker found (every worker collects the same suite)."""
        output = getattr(node, "workeroutput", {})
        found = json.loads(output.get(_WORKER_STALE, "[]"))
        if found and not self.stale_expectations:
            self.stale_expectations = found
        self.tests_deselected = max(self.tests_deselected, int(output.get(_WORKER_DESELECTED, 0)))

    def pytest_sessionfinish(self, session):
        worker_output = getattr(session.config, "workeroutput", None)
        if worker_output is not None:
            worker_output[_WORKER_STALE] = json.dumps(self.stale_expectations)
            worker_output[_WORKER_DESELECTED] = self.tests_deselected

    def pytest_unconfigure(self, config):
        for container in self.containers:
            container.stop()


def get(config) -> ConformanceSession:
    session = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if session is None:
        raise pytest.UsageError("the DataFlow conformance fixtures need the pack: add --dataflow-impl=MODULE")
    return session
