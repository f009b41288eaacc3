"""statement_timeout: a deadline per operation that cuts the operation's connections when it passes.

Cancelling the waiting coroutine is not enough: the drivers then close the connection politely or
send a cancel request, and both wait for the very server that stopped answering. So the deadline
terminates the driver connection itself (the dialect's `terminate`: no round trip); the pending
statement fails at once, SQLAlchemy discards the connection, and the server rolls its transaction back.
"""

import asyncio
import contextvars

DEADLINE = contextvars.ContextVar("dataflow_reference_deadline", default=None)


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._cuts: list = []
        self._timer: asyncio.TimerHandle | None = None

    def __enter__(self) -> "Deadline":
        self._timer = asyncio.get_running_loop().call_later(self.seconds, self._expire)
        self._token = DEADLINE.set(self)
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        DEADLINE.reset(self._token)

    def watch(self, cut) -> None:
        """Call `cut()` (which cuts a driver connection) when the deadline passes (at once if it already has)."""
        self._cuts.append(cut)
        if self.expired:
            cut()

    def _expire(self) -> None:
        self.expired = True
        for cut in self._cuts:
            cut()
