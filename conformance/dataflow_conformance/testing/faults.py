"""The faults of the chaos history (suite/test_chaos.py), injected from a thread while a round of the
workload (testing/chaos.py) runs: connections cut or stalled through the fault proxy, sessions killed, the
pool exhausted, and on an embedded database its file locked by another writer. Each round's plan is drawn
from the history's seeded generator; each fault is recorded in the history.
"""

import threading
import time

from ..backends.provision import end_other_sessions
from . import checkpoint
from .chaos import Workload
from .history import History

SERVER_FAULTS = {  # kind -> weight
    "cut": 3,  # every open connection dropped at once
    "cut_mid_stream": 2,  # the next connection to send data dropped after a few hundred bytes
    "lose_commit_answer": 2,  # the next COMMIT runs; its answer is held a moment, then dropped with the connection
    "stall_then_cut": 2,  # answers held back, then every connection dropped: statements sent, answers lost
    "kill": 2,  # the server ends every session of the instance
    "stall": 2,  # answers held back past the pool timeout (and statement_timeout)
    "exhaust": 2,  # every pooled connection held by an open transaction scope for a while
}
EMBEDDED_FAULTS = {"lock": 3, "exhaust": 2}  # SQLite: the database file locked by another writer


class Faults:
    """Injects each round's faults from a thread while the round's operations run."""

    def __init__(self, history: History, rng, *, db, workload: Workload, probe, proxy=None, stall: float, hold: int):
        self.history, self.rng, self.db, self.workload = history, rng, db, workload
        self.probe, self.proxy = probe, proxy
        self.stall, self.hold_count = stall, hold
        self.kinds = SERVER_FAULTS if proxy is not None else EMBEDDED_FAULTS
        self._thread: threading.Thread | None = None
        workload.scope_fault = self.in_scope

    def plan(self, round_: int) -> list[tuple[float, str]]:
        """(seconds after the round starts, kind) for this round: none in the first round, then one or two."""
        if round_ == 0:
            return []
        count = self.rng.choice((1, 1, 2))
        kinds = self.rng.choices(list(self.kinds), weights=list(self.kinds.values()), k=count)
        return sorted((round(self.rng.uniform(0.0, 0.4), 3), kind) for kind in kinds)

    def start(self, plan, round_: int) -> None:
        self._thread = threading.Thread(target=self._run, args=(plan, round_), name="dfc-chaos-faults", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """Wait for the round's faults and end those still armed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.proxy is not None:
            self.proxy.clear()

    def in_scope(self):
        """A fault to fire from inside a transaction scope (a checkpoint node), or None on SQLite."""
        if self.proxy is None:
            return None

        def cut():
            self.history.fault("cut_in_scope")
            self.proxy.cut_all()

        return checkpoint.register(cut)

    def _run(self, plan, round_: int) -> None:
        started = time.monotonic()
        for at, kind in plan:
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            try:
                getattr(self, f"_{kind}")(round_)
            except Exception:  # e.g. SQLite stayed locked by the implementation longer than the probe waits
                self.history.fault(f"{kind} (could not be injected)")
            else:
                self.history.fault(kind)

    def _cut(self, round_):
        self.proxy.cut_all()

    def _cut_mid_stream(self, round_):
        self.proxy.cut_after(self.rng.randint(40, 600))

    def _lose_commit_answer(self, round_):
        self.proxy.drop_answer_to(b"COMMIT", after=self.rng.choice((0.0, self.stall)))

    def _stall_then_cut(self, round_):
        self.proxy.delay(30)
        time.sleep(0.3)  # statements sent meanwhile reach the server; their answers wait in the proxy
        self.proxy.cut_all()
        self.proxy.delay(0)

    def _kill(self, round_):
        with self.probe.engine.connect() as conn:
            end_other_sessions(conn, self.probe.features)

    def _stall(self, round_):
        self.proxy.delay(self.stall)
        time.sleep(0.5)
        self.proxy.delay(0)

    def _exhaust(self, round_):
        release = self.workload.hold(self.db, self.hold_count, round_)
        time.sleep(self.stall)
        release()

    def _lock(self, round_):
        with self.probe.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            time.sleep(self.stall)
            conn.exec_driver_sql("ROLLBACK")
