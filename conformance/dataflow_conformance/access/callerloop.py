"""The event loop an async access path awaits on, as a caller's `asyncio.run` would, closed within a bound.

`asyncio.Runner.close()` cancels the loop's tasks and waits for every one of them to finish: an
implementation whose background task ignores cancellation (a pool monitor, a reaper loop) would hang the
test's teardown, and the run with it. Here the tasks get `CLOSE_TIMEOUT` seconds to end after they are
cancelled; then the loop is closed without them (what they left behind is CONF-007's and NODE-004's to
judge, which count the tasks close() leaves)."""

import asyncio

CLOSE_TIMEOUT = 5.0


class CallerLoop:
    def __init__(self):
        self._runner = asyncio.Runner()
        self._used = False

    def run(self, coro, *, context):
        self._used = True
        return self._runner.run(coro, context=context)

    def close(self) -> None:
        if not self._used:
            self._runner.close()
            return
        loop = self._runner.get_loop()
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=CLOSE_TIMEOUT))
        if any(not task.done() for task in pending):
            self._abandon(loop)
        else:
            self._runner.close()

    @staticmethod
    def _abandon(loop) -> None:
        """What Runner.close() does, each step bounded, leaving the tasks that ignore cancellation behind
        unfinished: the thread's current loop unset (a later get_event_loop() would get a closed one) and
        the default executor's threads shut down."""
        for step in (loop.shutdown_asyncgens(), loop.shutdown_default_executor()):
            try:
                loop.run_until_complete(asyncio.wait_for(step, CLOSE_TIMEOUT))
            except TimeoutError:
                pass  # a generator or executor thread that does not end: left behind like the tasks
        asyncio.set_event_loop(None)
        loop.close()
