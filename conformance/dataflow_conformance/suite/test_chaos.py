"""CHAOS: many clients, every kind of write, faults all the while; afterwards, read through the probe,
nothing acknowledged is lost and nothing refused is kept (testing/history.py judges the final state,
testing/chaos.py draws the workload, testing/faults.py the faults).

Seeded (--dataflow-chaos-seed) and sized (--dataflow-chaos-budget); each test reports its figures
(operations, faults by kind, outcomes, anomalies) in the conformance report.
"""

import math
import random
import time

import pytest
from sqlalchemy.engine import make_url

from ..backends.registry import SERVERS
from ..testing.chaos import Workload, define_models
from ..testing.faultproxy import FaultProxy
from ..testing.faults import Faults
from ..testing.history import OK, UNKNOWN, History, outcome_of
from .support import report_figures, with_deadline

TENANTS = ("acme", "globex")
CLIENTS, PER_CLIENT = 8, 3  # 24 operations in flight per round
POOL = {"pool_size": 3, "pool_max_overflow": 2, "pool_timeout": 1}  # held exhausted by the `exhaust` fault
STALL = 2.0  # seconds answers are held back: past pool_timeout and statement_timeout
ROUND_DEADLINE = 120  # seconds: a round that takes longer is a hang
QUIET_DEADLINE = 30  # seconds for the server to finish the statements of cut connections


@pytest.fixture
def chaos_url(backend, database_url):
    """(URL the implementation is given, the fault proxy in front of the server, or None on SQLite)."""
    if not backend.features.server:
        yield database_url, None
        return
    url = make_url(database_url)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or backend.features.default_port).start()
    yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    proxy.stop()


def run_history(request, make_dataflow, probe, flow, chaos_url, backend, *, statement_timeout=None):
    """Run a seeded history under faults, check the final state, report the figures; the anomalies."""
    options = request.config.option
    url, proxy = chaos_url
    started = time.monotonic()
    server = backend.features.server
    settings = {**(POOL if server else {}), **({"statement_timeout": statement_timeout} if statement_timeout else {})}
    db = make_dataflow(url, multi_tenant=True, **settings)
    define_models(db)
    for tenant in TENANTS:
        db.tenant_context.register_tenant(tenant, tenant.title())
    db.create_tables()

    seed = f"{options.dataflow_chaos_seed}:{backend.name}:{flow.name}" + (":timeout" if statement_timeout else "")
    history = History()
    workload = Workload(
        history,
        random.Random(seed),
        tenants=TENANTS,
        clients=CLIENTS,
        per_client=PER_CLIENT,
        workflows=flow.runs_workflows,
    )
    faults = Faults(
        history, random.Random(f"{seed}:faults"), db=db, workload=workload, probe=probe, proxy=proxy,
        stall=STALL if server else 1.0, hold=POOL["pool_size"] + POOL["pool_max_overflow"] if server else 1,
    )  # fmt: skip
    rounds = math.ceil(options.dataflow_chaos_budget / (CLIENTS * PER_CLIENT))
    for round_ in range(rounds):
        ids = {row["ref"]: row["id"] for row in probe.query("SELECT ref, id FROM events")}
        planned = workload.plan(round_, ids)
        faults.start(faults.plan(round_), round_)
        finished, results, _ = with_deadline(
            lambda planned=planned: flow.concurrently(
                [call for _, call in planned], db=db, tenants=[op.tenant for op, _ in planned]
            ),
            ROUND_DEADLINE,
        )
        faults.finish()
        if not finished:
            history.note("unusable", f"round {round_}: {len(planned)} operations did not finish in {ROUND_DEADLINE} s")
            break
        for (op, _), answer in zip(planned, results, strict=True):
            workload.observe(op, answer)
    else:
        check_usable(history, workload, flow, db, rounds)
    if server:
        wait_until_quiet(probe)
    events = probe.query("SELECT ref, op, amount, note, tenant_id FROM events")
    registers = probe.query("SELECT slot, op, amount, note, tenant_id FROM registers")
    check_counts(history, flow, db, events)
    anomalies = history.check(events, registers)
    figures = history.figures(anomalies)
    first = {"first_anomalies": [str(a)[:400] for a in anomalies[:5]]} if anomalies else {}
    report_figures(request, seed=seed, rounds=rounds, seconds=round(time.monotonic() - started, 1), **figures, **first)
    return anomalies, figures


def check_usable(history, workload, flow, db, round_):
    """Once the faults end, the same instance serves each tenant without a restart (the first call may
    still meet a dead pooled connection and fail clearly, as FAULT-004 allows; the next must succeed)."""
    for tenant in TENANTS:
        for _ in range(2):
            op, call = workload.create(round_, "after", tenant)
            (answer,) = flow.concurrently([call], db=db, tenants=[tenant])
            workload.observe(op, answer)
            if op.outcome == OK:
                break
        else:
            history.note("unusable", f"after the faults, {op.describe()} failed twice", op)


def check_counts(history, flow, db, events):
    """Each tenant's Count through the implementation equals the rows the probe sees under that tenant."""
    answers = flow.concurrently([("EventCountNode", {})] * len(TENANTS), db=db, tenants=list(TENANTS))
    for tenant, answer in zip(TENANTS, answers, strict=True):
        stored = sum(1 for row in events if row["tenant_id"] == tenant)
        if isinstance(answer, BaseException):
            history.note("unusable", f"Count as {tenant} after the faults failed: {answer}")
        elif answer.get("count") != stored:
            history.note("tenant", f"Count as {tenant} answered {answer.get('count')}; {stored} rows are {tenant}'s")


def wait_until_quiet(probe) -> None:
    """The server has finished the statements of connections that were cut (their sessions end)."""
    deadline = time.monotonic() + QUIET_DEADLINE
    while probe.connections(busy=True) and time.monotonic() < deadline:
        time.sleep(0.2)


def assert_no_anomalies(anomalies, figures):
    listed = "\n  ".join(str(a) for a in anomalies[:25])
    more = f"\n  ... and {len(anomalies) - 25} more" if len(anomalies) > 25 else ""
    assert not anomalies, (
        f"{len(anomalies)} anomalies in a history of {figures['operations']} operations "
        f"(faults {figures['faults']}):\n  {listed}{more}"
    )


@pytest.mark.clause("CHAOS-001")
def test_history_under_faults(request, make_dataflow, probe, flow, chaos_url, backend):
    anomalies, figures = run_history(request, make_dataflow, probe, flow, chaos_url, backend)
    assert figures[OK] > 0, "no operation succeeded: the history says nothing"
    assert_no_anomalies(anomalies, figures)


@pytest.mark.clause("CHAOS-003")
@pytest.mark.backends(*SERVERS)
@pytest.mark.paths("async", "express_sync")  # one workflow path and one express path: the timeout is the subject
def test_history_under_faults_with_statement_timeout(request, make_dataflow, probe, flow, chaos_url, backend):
    anomalies, figures = run_history(request, make_dataflow, probe, flow, chaos_url, backend, statement_timeout=1)
    assert figures[OK] > 0, "no operation succeeded: the history says nothing"
    assert_no_anomalies(anomalies, figures)


def lose_the_commit_answer(make_dataflow, probe, flow, chaos_url, **settings):
    """A create whose COMMIT reaches the server and takes effect, while its answer is dropped with the
    connection (after 30 s, or as soon as it comes when no statement_timeout would fire first). Returns
    what the client was told."""
    url, proxy = chaos_url
    db = make_dataflow(url, **settings)
    define_models(db)
    db.create_tables()
    # A first create, so that whatever an implementation sets up on its first call (and commits) is done.
    flow.node("EventCreateNode", {"ref": "first", "op": 0, "client": "c", "amount": 0, "note": "n"}, db=db)
    proxy.drop_answer_to(b"COMMIT", after=30 if settings else 0)
    record = {"ref": "lost", "op": 1, "client": "c", "amount": 1, "note": "n"}
    finished, answer, _ = with_deadline(lambda: flow.node("EventCreateNode", record, db=db), 60)
    assert finished, "a create whose COMMIT answer was lost hung for 60 s"
    assert not proxy.armed, "the create sent no COMMIT through the proxy (test setup problem)"
    stored = [r["ref"] for r in probe.rows("events")]
    assert "lost" in stored, f"the COMMIT did not take effect (test setup problem): {stored}"
    assert stored.count("lost") == 1, (
        f"the create is stored {stored.count('lost')} times (retried after the lost answer)"
    )
    return answer


@pytest.mark.clause("CHAOS-002")
@pytest.mark.backends(*SERVERS)
def test_lost_commit_answer_says_the_outcome_is_unknown(make_dataflow, probe, flow, chaos_url):
    answer = lose_the_commit_answer(make_dataflow, probe, flow, chaos_url)
    assert isinstance(answer, Exception), (
        f"the create was acknowledged although the answer to its COMMIT never arrived: {answer!r}"
    )
    assert outcome_of(answer) == UNKNOWN, (
        f"the row was committed, yet the error does not say the outcome is unknown: {str(answer)[:300]}"
    )


@pytest.mark.clause("CHAOS-003")
@pytest.mark.backends(*SERVERS)
def test_commit_past_statement_timeout_says_the_outcome_is_unknown(make_dataflow, probe, flow, chaos_url):
    answer = lose_the_commit_answer(make_dataflow, probe, flow, chaos_url, statement_timeout=1)
    assert isinstance(answer, Exception), f"the create succeeded although its answer was held 30 s: {answer!r}"
    assert outcome_of(answer) == UNKNOWN, (
        f"the row was committed, yet the timeout's error does not say the outcome is unknown: {str(answer)[:300]}"
    )
