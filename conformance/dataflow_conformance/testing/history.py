"""A history of writes under faults, and the check of the final state against it (in the spirit of
Jepsen's checkers): every write a client was told succeeded is there exactly once with its values, every
write it was told failed left no trace, an all-or-nothing write is all there or not at all, and each row
belongs to the tenant that wrote it. Only a write whose error says its outcome is unknown may go either way.

Two tables take the writes. `events` rows are appended (one per record, no unique key, so a write stored
twice shows): each has a `ref` no other write uses, and later updates and deletes of it come from the
client that created it, one at a time, so its possible final states can be replayed exactly. `registers`
rows are shared: concurrent upserts set a `slot` (unique), and the final value of a slot must come from a
write that could have been the last one: acknowledged or unknown, and not overwritten by an acknowledged
write of a later round (writes of one round run concurrently; a round starts after the last one ended).

Every record carries the id of the operation that wrote it (`op`) and a value no other write uses
(`amount`), so each stored row names its writer.
"""

import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from ..exceptions import exception_chain

OK, REFUSED, UNKNOWN = "acknowledged", "refused", "indeterminate"
# What an error says when it cannot tell whether the write happened (a connection lost during COMMIT):
# the only errors after which the write may be present.
OUTCOME_UNKNOWN = re.compile(
    r"outcome (?:is |was |remains )?unknown|unknown outcome|may (?:or may not )?have been (?:committed|applied|written)"
    r"|indeterminate|in doubt",
    re.I,
)
EVENTS, REGISTERS = "events", "registers"
ABSENT = None  # a possible final state of an event: no row


def outcome_of(answer) -> str:
    """What the client was told: an answer, a refusal, or an error that says the outcome is unknown."""
    if not isinstance(answer, BaseException):
        return OK
    text = " <- ".join(str(e) for e in exception_chain(answer))
    return UNKNOWN if OUTCOME_UNKNOWN.search(text) else REFUSED


@dataclass(frozen=True)
class Record:
    """One row a write sets: in `table`, identified by `ref` (events) or `slot` (registers)."""

    table: str
    key: str
    amount: int
    note: str


@dataclass
class Operation:
    id: int
    kind: str  # create, bulk_create, update, delete, upsert, bulk_upsert, transaction, held_transaction, read, ...
    client: str
    tenant: str | None
    round: int
    records: list[Record] = field(default_factory=list)  # what it writes (for update / delete: the target)
    atomic: bool = False  # all of its records or none (bulk writes, transactions)
    visible: bool = True  # False: it ends with a rollback, so nothing of it may ever show
    invalid: bool = False  # it must be refused (bad input, a duplicate unique key)
    outcome: str | None = None  # OK / REFUSED / UNKNOWN once it ran
    error: str = ""
    answer: object = None

    def describe(self) -> str:
        tenant = f", tenant {self.tenant}" if self.tenant else ""
        error = f": {self.error[:300]}" if self.error else ""
        return f"op {self.id} {self.kind} ({self.client}{tenant}, round {self.round}, {self.outcome}{error})"

    def may_apply(self) -> bool:
        return self.visible and self.outcome in (OK, UNKNOWN)


@dataclass(frozen=True)
class Anomaly:
    kind: str  # lost, phantom, duplicate, partial, wrong-values, tenant, accepted-invalid, answer, unusable
    message: str
    op: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class History:
    """The operations of a run and what each was told; `check()` judges the final state against them."""

    def __init__(self):
        self.operations: list[Operation] = []
        self.faults: Counter = Counter()  # fault kind -> times injected
        self.anomalies: list[Anomaly] = []  # found while running (answers that contradict themselves)
        self._lock = threading.Lock()  # faults are counted from the fault thread and from inside scopes

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def add(self, kind: str, client: str, tenant: str | None, round_: int, records=(), **flags) -> Operation:
        op = Operation(len(self.operations) + 1, kind, client, tenant, round_, list(records), **flags)
        self.operations.append(op)
        return op

    def record(self, op: Operation, answer) -> None:
        op.outcome, op.answer = outcome_of(answer), answer
        if isinstance(answer, BaseException):
            op.error = f"{type(answer).__name__}: {answer}"
        if op.invalid and op.outcome == OK:
            self.anomalies.append(Anomaly("accepted-invalid", f"{op.describe()} was acknowledged", op.id))

    def note(self, kind: str, message: str, op: Operation | None = None) -> None:
        self.anomalies.append(Anomaly(kind, message, op.id if op else None))

    # -- figures -----------------------------------------------------------------------------

    def figures(self, anomalies: list[Anomaly]) -> dict:
        ran = [op for op in self.operations if op.outcome is not None]
        outcomes = Counter(op.outcome for op in ran)
        return {
            "operations": len(ran),
            "by_kind": dict(sorted(Counter(op.kind for op in ran).items())),
            "faults": dict(sorted(self.faults.items())),
            OK: outcomes[OK],
            REFUSED: outcomes[REFUSED],
            UNKNOWN: outcomes[UNKNOWN],
            "anomalies": len(anomalies),
            "anomalies_by_kind": dict(sorted(Counter(a.kind for a in anomalies).items())),
        }

    # -- the final-state check ---------------------------------------------------------------

    def check(
        self, events: list[dict], registers: list[dict], *, tenant_column: str | None = "tenant_id"
    ) -> list[Anomaly]:
        """Every anomaly of the final state (rows read through an independent connection: `ref` / `slot`,
        `op`, `amount`, `note` and the tenant column), plus those noted while running."""
        found = list(self.anomalies)
        ran = [op for op in self.operations if op.outcome is not None]
        by_id = {op.id: op for op in ran}
        found += self._check_rows(events, "ref", EVENTS, by_id, tenant_column)
        found += self._check_rows(registers, "slot", REGISTERS, by_id, tenant_column)
        stored = {EVENTS: _by_key(events, "ref"), REGISTERS: _by_key(registers, "slot")}
        found += self._check_events(ran, stored[EVENTS])
        found += self._check_registers(ran, stored[REGISTERS])
        found += self._check_atomic(ran, stored)
        return found

    def _check_rows(self, rows, key_name, table, by_id, tenant_column) -> list[Anomaly]:
        """Rows no write of this history made, rows stored twice, and rows under another tenant."""
        found, seen = [], Counter(row[key_name] for row in rows)
        for key, count in seen.items():
            if count > 1:
                found.append(Anomaly("duplicate", f"{table} {key!r} is stored {count} times"))
        for row in rows:
            writer = by_id.get(row["op"])
            if writer is None or not any(r.key == row[key_name] and r.table == table for r in writer.records):
                found.append(
                    Anomaly("phantom", f"{table} {row[key_name]!r} names op {row['op']}, which never wrote it")
                )
            elif tenant_column and row.get(tenant_column) != writer.tenant:
                found.append(
                    Anomaly(
                        "tenant",
                        f"{table} {row[key_name]!r} written by {writer.describe()} is stored under tenant "
                        f"{row.get(tenant_column)!r}",
                        writer.id,
                    )
                )
        return found

    def _check_events(self, ran, stored) -> list[Anomaly]:
        """Replay each event's writes (its creation, then its creator's updates and deletes, in order) into
        the set of states it may be in, and compare with the row. (The presence of the records of
        all-or-nothing writes is judged as a whole in _check_atomic; their values here.)"""
        possible: dict[str, set] = {}
        written: dict[str, set] = {}  # every value a write gave the event: an older one is a lost update
        created_by: dict[str, Operation] = {}
        for op in sorted(ran, key=lambda o: o.round):
            for record in (r for r in op.records if r.table == EVENTS):
                state = (record.amount, record.note)
                before = possible.get(record.key, {ABSENT})
                if op.kind == "delete":
                    after = {ABSENT}
                else:
                    after = {state}
                    written.setdefault(record.key, set()).add(state)
                if op.kind not in ("update", "delete"):
                    created_by[record.key] = op
                if not op.visible:
                    after = before
                possible[record.key] = {OK: after, REFUSED: before, UNKNOWN: before | after}[op.outcome]
        found = []
        for key, states in possible.items():
            rows, op = stored.get(key, []), created_by.get(key)
            value = (rows[0]["amount"], rows[0]["note"]) if rows else ABSENT
            if value in states or (op is not None and op.atomic and (value is ABSENT or value in written[key])):
                continue
            told = _told(ran, key)
            if value is ABSENT:
                found.append(Anomaly("lost", f"event {key!r} is missing; {told}", op and op.id))
            elif value not in written.get(key, ()):
                found.append(Anomaly("wrong-values", f"event {key!r} holds {value!r}, which no write gave it; {told}"))
            elif op is None or not op.may_apply():  # it was never written
                found.append(Anomaly("phantom", f"event {key!r} is stored; {told}", op and op.id))
            else:
                found.append(
                    Anomaly("lost", f"event {key!r} holds {value!r}, an overwritten value; {told}", op and op.id)
                )
        return found

    def _check_registers(self, ran, stored) -> list[Anomaly]:
        """A slot's final value must come from an acknowledged or unknown write that no acknowledged write
        of a later round overwrote; a slot some write was acknowledged for cannot be missing. (Writes that
        are all-or-nothing are judged as a whole in _check_atomic.)"""
        writes: dict[str, list[tuple[Operation, Record]]] = {}
        for op in ran:
            for record in (r for r in op.records if r.table == REGISTERS):
                writes.setdefault(record.key, []).append((op, record))
        found = []
        for slot, history in writes.items():
            rows = stored.get(slot, [])
            acknowledged = [op for op, _ in history if op.outcome == OK and op.visible and not op.atomic]
            if not rows:
                if acknowledged:
                    found.append(
                        Anomaly(
                            "lost", f"slot {slot!r} is missing, yet {acknowledged[0].describe()}", acknowledged[0].id
                        )
                    )
                continue
            row = rows[0]
            writer = next(((op, r) for op, r in history if op.id == row["op"]), None)
            if writer is None:
                continue  # a row of an operation that never wrote this slot: _check_rows reports it
            op, record = writer
            if (row["amount"], row["note"]) != (record.amount, record.note):
                found.append(Anomaly("wrong-values", f"slot {slot!r} of {op.describe()} holds {row!r}", op.id))
            elif not op.may_apply() and not op.atomic:
                word = "was refused" if op.outcome == REFUSED else "was rolled back"
                found.append(
                    Anomaly("phantom", f"slot {slot!r} holds the value of {op.describe()}, which {word}", op.id)
                )
            elif later := [o for o in acknowledged if o.round > op.round]:
                found.append(
                    Anomaly(
                        "lost",
                        f"slot {slot!r} holds the value of {op.describe()}, so {later[-1].describe()} "
                        "(acknowledged in a later round) was lost",
                        later[-1].id,
                    )
                )
        return found

    def _check_atomic(self, ran, stored) -> list[Anomaly]:
        """A bulk write or transaction is all there or not at all: all when acknowledged, none when refused
        or rolled back."""
        rounds = {op.id: op.round for op in ran}
        found = []
        for op in (o for o in ran if o.atomic):
            applied = [_applied(op, record, stored, rounds) for record in op.records]
            there = [r.key for r, a in zip(op.records, applied, strict=True) if a is True]
            missing = [r.key for r, a in zip(op.records, applied, strict=True) if a is False]
            if there and missing:
                found.append(
                    Anomaly(
                        "partial",
                        f"{len(there)} of the {len(op.records)} records of {op.describe()} are stored "
                        f"(missing: {_some(missing)})",
                        op.id,
                    )
                )
            elif there and not op.may_apply():
                why = "was refused" if op.outcome == REFUSED else "was rolled back"
                found.append(
                    Anomaly("phantom", f"records of {op.describe()} are stored ({_some(there)}), yet it {why}", op.id)
                )
            elif missing and op.outcome == OK and op.visible:
                found.append(Anomaly("lost", f"records of {op.describe()} are missing ({_some(missing)})", op.id))
        return found


def _applied(op: Operation, record: Record, stored, rounds) -> bool | None:
    """Whether the final state shows `op` wrote `record`: True, False, or None when a write of the same or
    a later round may have overwritten a register since."""
    rows = stored[record.table].get(record.key, [])
    if record.table == EVENTS or not rows:
        return bool(rows)
    writer = rows[0]["op"]
    if writer == op.id:
        return True
    return None if rounds.get(writer, -1) >= op.round else False


def _some(keys: list[str]) -> str:
    return ", ".join(repr(k) for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _by_key(rows, key_name) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row[key_name], []).append(row)
    return grouped


def _told(ran, key) -> str:
    """What the clients were told about an event, in order: the evidence behind an anomaly."""
    told = [
        op.describe()
        for op in sorted(ran, key=lambda o: o.round)
        if any(r.key == key and r.table == EVENTS for r in op.records)
    ]
    return "told: " + "; ".join(told)
