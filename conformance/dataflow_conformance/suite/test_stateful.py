"""STATE: random operation sequences against an in-memory model (see dataflow_conformance/testing/stateful.py)."""

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from ..testing.stateful import build_machine
from .support import define_user

TENANTS = ("acme", "globex")


@pytest.mark.clause("STATE-001")
@pytest.mark.parametrize("tenancy", ["single", "two-tenants"])
def test_random_sequences_match_the_model(request, dataflow_impl, database_url, probe, flow, tenancy):
    tenants = TENANTS if tenancy == "two-tenants" else None

    def new_dataflow():
        if "users" in probe.tables():
            probe.execute("DELETE FROM users")
        db = dataflow_impl.DataFlow(database_url, **({"multi_tenant": True} if tenants else {}))
        define_user(db)
        for tenant in tenants or ():
            db.tenant_context.register_tenant(tenant, tenant.title())
        db.create_tables()
        return db

    options = request.config.option
    # Shrinking replays a failing sequence hundreds of times on fresh instances: minutes per failure.
    # The failing sequence is reported either way; --dataflow-stateful-shrink asks for the smallest one.
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + (
        [Phase.shrink] if options.dataflow_stateful_shrink else []
    )
    budget = settings(
        max_examples=options.dataflow_stateful_examples,
        phases=phases,
        # Fixed sequences by default, so a CI gate (and an expectations file) sees the same run every
        # time; --dataflow-stateful-random explores new ones (nox -s stateful).
        derandomize=not options.dataflow_stateful_random,
        stateful_step_count=options.dataflow_stateful_steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    )
    run_state_machine_as_test(build_machine(new_dataflow, probe, flow, tenants=tenants), settings=budget)
