"""The chaos workload: clients' writes as documented node calls, recorded in a History (testing/history.py);
the faults injected while they run are testing/faults.py's.

Seeded: `random.Random` generators seeded from the test's seed draw every operation and the fault plan
of every round, so a seed replays the same workload and the same faults; when a fault lands among the
operations in flight is the machine's timing. Writes go to two models (see history.py): `Event` rows, appended and then updated or
deleted by the client that created them, and `Register` slots, which concurrent upserts share.
"""

from collections import defaultdict

from kailash.workflow.builder import WorkflowBuilder

from ..access.workflow import WorkflowPath
from .history import EVENTS, OK, REGISTERS, UNKNOWN, History, Operation, Record

SLOTS_PER_TENANT = 4  # few, so that concurrent upserts meet on the same slot
# How often each kind of operation is drawn; transaction scopes are workflows (local / async paths only).
WEIGHTS = {
    "create": 6,
    "bulk_create": 3,
    "update": 4,
    "delete": 1,
    "upsert": 5,
    "bulk_upsert": 2,
    "read": 2,
    "bulk_create_invalid": 1,  # one record of the wrong type: refused before anything is written
    "bulk_create_duplicate": 1,  # the last record repeats a taken unique slot: refused by the database
    "transaction": 2,
    "transaction_rollback": 1,
    "transaction_failing": 1,  # a node inside fails: the scope rolls back
}
TRANSACTION_KINDS = frozenset(k for k in WEIGHTS if k.startswith("transaction"))
WORKFLOW_BATCH_SIZE = 2  # bulk writes on the workflow paths span several batches (express has no batch_size)
# Seconds before an unfinished scope is rolled back (TXN-011). Under AsyncLocalRuntime, whose nodes share
# a few execution slots, a scope holding SQLite's single writer can wait for a slot that writers queued
# behind it hold: its timeout is what ends the wait.
SCOPE_TIMEOUT = 5


def define_models(db):
    """The two models of the chaos workload on `db`."""

    @db.model
    class Event:
        ref: str
        op: int
        client: str
        amount: int
        note: str

    @db.model
    class Register:
        slot: str
        op: int
        amount: int
        note: str
        __dataflow__ = {"indexes": [{"name": "uq_registers_slot", "fields": ["slot"], "unique": True}]}

    return Event, Register


def note_text(op: int, index: int, client: str) -> str:
    # Quotes, a dash and guillemets: values round-trip byte for byte under faults too. Never "COMMIT",
    # which the proxy's commit fault looks for.
    return f"#{op}.{index} by {client} \u2014 it's \u00abok\u00bb"


class Workload:
    """Draws each round's operations (one History operation and one call each) for `clients` clients
    spread over `tenants`, and learns from their outcomes which records later updates may target."""

    def __init__(self, history: History, rng, *, tenants, clients: int, per_client: int, workflows: bool):
        self.history, self.rng = history, rng
        self.tenants = list(tenants)
        self.clients = [(f"c{i}", self.tenants[i % len(self.tenants)]) for i in range(clients)]
        self.per_client = per_client
        self.kinds = [k for k in WEIGHTS if workflows or k not in TRANSACTION_KINDS]
        self.batch = {"batch_size": WORKFLOW_BATCH_SIZE} if workflows else {}
        self.live: dict[str, dict[str, Operation]] = defaultdict(dict)  # client -> ref -> its creator
        self.taken: dict[str, set[str]] = {t: set() for t in self.tenants}  # slots known to exist
        self.slots = {t: [f"{t}-s{n}" for n in range(SLOTS_PER_TENANT)] for t in self.tenants}
        self.scope_fault = lambda: None  # a checkpoint key whose callback injects a fault inside a scope

    # -- drawing a round ---------------------------------------------------------------------

    def plan(self, round_: int, ids: dict[str, int]) -> list[tuple[Operation, object]]:
        """This round's operations and their calls (node type and parameters, or a workflow). `ids`: each
        stored event's id by ref, read through the probe (updates and deletes name a record by id)."""
        planned, targeted = [], set()
        for client, tenant in self.clients:
            for _ in range(self.per_client):
                kind = self.rng.choices(self.kinds, weights=[WEIGHTS[k] for k in self.kinds])[0]
                drawn = getattr(self, f"_{kind}")(round_, client, tenant, ids, targeted)
                if drawn is None:  # nothing to update or delete yet
                    drawn = self._create(round_, client, tenant, ids, targeted)
                planned.append(drawn)
        return planned

    def _op(self, kind, round_, client, tenant, records=(), **flags) -> Operation:
        return self.history.add(kind, client, tenant, round_, records, **flags)

    def _ref(self, tenant, op_id, index) -> str:
        return f"{tenant}-e{op_id}.{index}"

    def _events(self, op: Operation, count: int) -> list[dict]:
        records = []
        for index in range(len(op.records), len(op.records) + count):  # refs unique within the operation
            record = Record(
                EVENTS, self._ref(op.tenant, op.id, index), op.id * 1000 + index, note_text(op.id, index, op.client)
            )
            op.records.append(record)
            records.append(
                {"ref": record.key, "op": op.id, "client": op.client, "amount": record.amount, "note": record.note}
            )
        return records

    def _register(self, op: Operation, slot: str, index: int = 0) -> dict:
        record = Record(REGISTERS, slot, op.id * 1000 + index, note_text(op.id, index, op.client))
        op.records.append(record)
        return {"slot": slot, "op": op.id, "amount": record.amount, "note": record.note}

    def create(self, round_, client, tenant) -> tuple[Operation, tuple]:
        """One single create, outside the drawn workload (the check that the instance still works)."""
        return self._create(round_, client, tenant, {}, set())

    def _create(self, round_, client, tenant, ids, targeted):
        op = self._op("create", round_, client, tenant)
        return op, ("EventCreateNode", self._events(op, 1)[0])

    def _bulk_create(self, round_, client, tenant, ids, targeted):
        op = self._op("bulk_create", round_, client, tenant, atomic=True)
        return op, ("EventBulkCreateNode", {"data": self._events(op, self.rng.randint(2, 6)), **self.batch})

    def _bulk_create_invalid(self, round_, client, tenant, ids, targeted):
        op = self._op("bulk_create_invalid", round_, client, tenant, atomic=True, invalid=True)
        data = self._events(op, self.rng.randint(3, 6))
        data[self.rng.randrange(1, len(data))]["amount"] = "many"  # not an int: the whole write is refused
        return op, ("EventBulkCreateNode", {"data": data, **self.batch})

    def _bulk_create_duplicate(self, round_, client, tenant, ids, targeted):
        if not self.taken[tenant]:
            return None
        op = self._op("bulk_create_duplicate", round_, client, tenant, atomic=True, invalid=True)
        data = [self._register(op, f"{tenant}-d{op.id}.{i}", i) for i in range(self.rng.randint(2, 5))]
        taken = self.rng.choice(sorted(self.taken[tenant]))
        data.append(self._register(op, taken, len(data)))  # a slot some earlier write took: a unique violation
        return op, ("RegisterBulkCreateNode", {"data": data, **self.batch})

    def _target(self, client, ids, targeted):
        """One of the client's own single-created events that is certainly stored and untouched this round."""
        choices = sorted(ref for ref in self.live[client] if ref in ids and ref not in targeted)
        if not choices:
            return None
        ref = self.rng.choice(choices)
        targeted.add(ref)
        return ref

    def _update(self, round_, client, tenant, ids, targeted):
        ref = self._target(client, ids, targeted)
        if ref is None:
            return None
        op = self._op("update", round_, client, tenant)
        record = Record(EVENTS, ref, op.id * 1000, note_text(op.id, 0, client))
        op.records.append(record)
        return op, (
            "EventUpdateNode",
            {"filter": {"id": ids[ref]}, "fields": {"amount": record.amount, "note": record.note}},
        )

    def _delete(self, round_, client, tenant, ids, targeted):
        ref = self._target(client, ids, targeted)
        if ref is None:
            return None
        op = self._op("delete", round_, client, tenant, [Record(EVENTS, ref, 0, "")])
        return op, ("EventDeleteNode", {"id": ids[ref]})

    def _upsert(self, round_, client, tenant, ids, targeted):
        op = self._op("upsert", round_, client, tenant)
        values = self._register(op, self.rng.choice(self.slots[tenant]))
        fields = {k: v for k, v in values.items() if k != "slot"}
        where = {"slot": values["slot"]}
        return op, ("RegisterUpsertNode", {"where": where, "create": values, "update": fields, "conflict_on": ["slot"]})

    def _bulk_upsert(self, round_, client, tenant, ids, targeted):
        op = self._op("bulk_upsert", round_, client, tenant, atomic=True)
        slots = self.rng.sample(self.slots[tenant], self.rng.randint(2, 3))
        data = [self._register(op, slot, i) for i, slot in enumerate(slots)]
        return op, ("RegisterBulkUpsertNode", {"data": data, "conflict_on": ["slot"]})

    def _read(self, round_, client, tenant, ids, targeted):
        op = self._op("read", round_, client, tenant)
        return op, ("EventListNode", {"filter": {"client": client}, "limit": 100})

    def _transaction(self, round_, client, tenant, ids, targeted, *, kind="transaction", end="TransactionCommitNode"):
        op = self._op(kind, round_, client, tenant, atomic=True, visible=end == "TransactionCommitNode")
        single, bulk = self._events(op, 1)[0], self._events(op, self.rng.randint(2, 4))
        slot = self._register(op, f"{tenant}-t{op.id}")
        steps = [
            ("EventCreateNode", single),
            ("EventBulkCreateNode", {"data": bulk, **self.batch}),
            (
                "RegisterUpsertNode",
                {"where": {"slot": slot["slot"]}, "create": slot, "update": slot, "conflict_on": ["slot"]},
            ),
        ]
        if round_ and self.rng.random() < 0.3 and (key := self.scope_fault()) is not None:
            steps.insert(self.rng.randint(1, len(steps)), ("ConformanceCheckpointNode", {"key": key}))
        if kind == "transaction_failing":
            op.invalid = True
            bad = {**self._events(op, 1)[0], "amount": "many"}
            steps.insert(self.rng.randint(1, len(steps)), ("EventCreateNode", bad))
        return op, scope_workflow(steps, end)

    def _transaction_rollback(self, round_, client, tenant, ids, targeted):
        return self._transaction(
            round_, client, tenant, ids, targeted, kind="transaction_rollback", end="TransactionRollbackNode"
        )

    def _transaction_failing(self, round_, client, tenant, ids, targeted):
        return self._transaction(round_, client, tenant, ids, targeted, kind="transaction_failing")

    # -- learning from the answers -----------------------------------------------------------

    def observe(self, op: Operation, answer) -> None:
        """Record what the client was told, check what the answer itself says, and track the records a
        later update or delete may target (only those certainly stored)."""
        self.history.record(op, answer)
        if op.outcome != OK:
            if op.kind == "delete" and op.outcome == UNKNOWN:
                self.live[op.client].pop(op.records[0].key, None)
            return
        n = len(op.records)
        if op.kind == "create":
            self.live[op.client][op.records[0].key] = op
        elif op.kind == "delete":
            self.live[op.client].pop(op.records[0].key, None)
            self._expect(op, answer.get("deleted") is True, f"answered {answer!r} for a record it had stored")
        elif op.kind == "update":
            self._expect(op, answer.get("updated") is True, f"answered {_short(answer)} for a record it had stored")
        elif op.kind == "bulk_create":
            self._expect(op, answer.get("inserted") == n, f"reported inserted={answer.get('inserted')!r} of {n}")
        elif op.kind in ("upsert", "bulk_upsert"):
            self.taken[op.tenant].update(r.key for r in op.records)
        elif op.kind == "read":
            foreign = [
                r.get("ref") for r in answer.get("records", []) if not str(r.get("ref")).startswith(f"{op.tenant}-")
            ]
            if foreign:
                self.history.note("tenant", f"{op.describe()} returned other tenants' events {foreign[:5]}", op)

    def _expect(self, op, holds: bool, message: str) -> None:
        if not holds:
            self.history.note("answer", f"{op.describe()} {message}", op)

    # -- holding connections (the pool-exhaustion fault) -----------------------------------------

    def hold(self, db, count: int, round_: int):
        """Open `count` transaction scopes that each write one event and stay open, keeping their
        connections checked out; returns release(), which commits them. Run from the fault thread,
        on a LocalRuntime path of its own."""
        path = WorkflowPath("local")
        path.bind(db)
        held = []
        for _ in range(count):
            tenant = self.rng.choice(self.tenants)
            op = self._op("held_transaction", round_, "faults", tenant, atomic=True)
            builder = scope_workflow([("EventCreateNode", self._events(op, 1)[0])], end=None)
            try:
                with db.tenant_context.switch(tenant):
                    held.append((op, path.run(builder, db=db)["begin"]["transaction_id"]))
            except Exception as exc:
                self.history.record(op, exc)

        def release():
            try:
                for op, scope_id in held:
                    commit = WorkflowBuilder()
                    commit.add_node("TransactionCommitNode", "commit", {"transaction_id": scope_id})
                    try:
                        with db.tenant_context.switch(op.tenant):
                            self.history.record(op, path.run(commit, db=db))
                    except Exception as exc:
                        self.history.record(op, exc)
            finally:
                path.close()

        return release


def scope_workflow(steps, end: str | None) -> WorkflowBuilder:
    """A transaction scope running `steps` (node type, params) in order, ended by `end` (a commit or
    rollback node; None leaves it open)."""
    builder = WorkflowBuilder()
    builder.add_node("TransactionScopeNode", "begin", {"timeout": SCOPE_TIMEOUT})
    last = "begin"
    for index, (node_type, params) in enumerate([*steps, *([(end, {})] if end else [])]):
        node_id = f"step{index}"
        builder.add_node(node_type, node_id, params)
        builder.add_connection(last, "transaction_id", node_id, "transaction_id")
        last = node_id
    return builder


def _short(answer) -> str:
    return repr(answer)[:200]
