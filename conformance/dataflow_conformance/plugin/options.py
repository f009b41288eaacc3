"""The part of the kit pytest loads by itself (entry point `pytest11`): the pack's options, all under
`--dataflow-`, and nothing else. The pack's fixtures and hooks (plugin/pack.py) are registered only when a
run asks for them: `-p dataflow_conformance`, or `--dataflow-impl=MODULE`. Other projects' pytest runs
see these options in `--help` and are otherwise untouched (no imports of Kailash or SQLAlchemy here)."""

import pytest

from ..backends.registry import BACKENDS

PACK_PLUGIN = "dataflow_conformance"
BACKEND_CHOICES = (*BACKENDS, "all")


def pytest_addoption(parser):
    group = parser.getgroup("dataflow-conformance", "DataFlow conformance pack (active with --dataflow-impl)")
    group.addoption(
        "--dataflow-impl",
        metavar="MODULE",
        help="run the conformance pack against MODULE, which exposes a DataFlow class "
        "(with -p dataflow_conformance and no MODULE: the bundled dataflow_reference)",
    )
    group.addoption(
        "--dataflow-db",
        action="append",
        default=[],
        choices=BACKEND_CHOICES,
        help="backend to run on; repeatable (default: sqlite plus every backend with a URL configured)",
    )
    group.addoption(
        "--dataflow-dburi",
        action="append",
        default=[],
        metavar="URL",
        help="server URL for a backend (postgresql://..., mysql://...); repeatable",
    )
    group.addoption(
        "--dataflow-capability",
        action="append",
        default=[],
        metavar="NAME",
        help="claim an extended-profile capability for the implementation (repeatable; adds to what it declares)",
    )
    group.addoption(
        "--dataflow-expectations",
        metavar="FILE",
        help="TOML file of the implementation's known failures (a listed test that passes is 'fixed' and fails the gate), or the name of one the kit "
        "bundles (e.g. `dataflow`, for the published kailash-dataflow)",
    )
    group.addoption(
        "--dataflow-allow-fixed",
        action="store_true",
        help="tests the expectations file lists as failing may pass without failing the run (they are still "
        "reported as fixed)",
    )
    group.addoption(
        "--dataflow-report",
        default="conformance-report.json",
        metavar="PATH",
        help="where to write the JSON report (default: %(default)s)",
    )
    group.addoption("--dataflow-markdown", metavar="PATH", help="also write the report as Markdown")
    group.addoption(
        "--dataflow-stateful-examples",
        type=int,
        default=4,
        metavar="N",
        help="random operation sequences per state-machine test (default: %(default)s; `nox -s stateful` runs many)",
    )
    group.addoption(
        "--dataflow-stateful-steps", type=int, default=12, metavar="N", help="steps per sequence (default: %(default)s)"
    )
    group.addoption(
        "--dataflow-stateful-random",
        action="store_true",
        help="generate new random sequences (default: the same fixed sequences every run, for reproducible gates)",
    )
    group.addoption(
        "--dataflow-stateful-shrink",
        action="store_true",
        help="shrink a failing sequence to a minimal one (slow: replays it many times; nox -s stateful does)",
    )

    group.addoption(
        "--dataflow-chaos-seed",
        type=int,
        default=1,
        metavar="N",
        help="seed of the chaos histories and hostile inputs: a seed replays the same operations, faults and "
        "values (default: %(default)s)",
    )
    group.addoption(
        "--dataflow-chaos-budget",
        type=int,
        default=120,
        metavar="N",
        help="operations per chaos history test (default: %(default)s; `nox -s soak` runs a long one)",
    )
    group.addoption(
        "--dataflow-hostile-budget",
        type=int,
        default=150,
        metavar="N",
        help="hostile values and identifiers per hostile-input test (default: %(default)s; `nox -s hostile` "
        "runs more than 10,000 per backend)",
    )


# Options that only mean something to the pack: given without it, they would be ignored silently.
PACK_ONLY = (
    "dataflow_db",
    "dataflow_dburi",
    "dataflow_capability",
    "dataflow_expectations",
    "dataflow_allow_fixed",
    "dataflow_markdown",
)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """--dataflow-impl asks for the pack: register it when -p did not."""
    active = config.pluginmanager.has_plugin(PACK_PLUGIN)
    if config.option.dataflow_impl and not active:
        config.pluginmanager.import_plugin(PACK_PLUGIN)
        active = True
    given = [f"--{name.replace('_', '-')}" for name in PACK_ONLY if getattr(config.option, name)]
    if given and not active:
        raise pytest.UsageError(
            f"{', '.join(given)} configure the DataFlow conformance pack, which this run does not use: "
            "add --dataflow-impl=MODULE (or -p dataflow_conformance)"
        )
