"""What running one block records, whatever the block does: its time limit, what it prints, and the
warnings the implementation raises while it runs (page.py wraps every block in these)."""

import contextlib
import os
import signal
import sys
import warnings


class BlockTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt a block that runs longer than `seconds` (SIGALRM: examples run on the main thread)."""
    if not seconds:
        yield
        return

    def expire(signum, frame):
        raise BlockTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def captured_output(sink):
    """What examples (and the libraries they call, logging included) print goes to `sink`, not the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(sink.fileno(), 1)
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


_COLLECTING: list[dict] = []  # not empty while a garbage collection runs (see note_collection)


def note_collection(phase: str, info: dict) -> None:
    """A gc.callbacks entry: whether a collection runs, so that a finalizer's warning is judged by its own frames."""
    if phase == "start":
        _COLLECTING.append(info)
    elif _COLLECTING:
        _COLLECTING.pop()


@contextlib.contextmanager
def implementation_warnings(packages: tuple[str, ...], caught: list[str]):
    """Record in `caught` the warnings raised while the code of `packages` (the implementation's) is on the
    stack: its own, and those of the libraries it calls."""

    def show(message, category, filename, lineno, file=None, line=None):
        frame = sys._getframe(1)
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if any(module == p or module.startswith(p + ".") for p in packages):
                caught.append(f"{category.__name__}: {' '.join(str(message).split())}"[:600])
                return
            # A finalizer run by a garbage collection: the frames under it are whatever code was running
            # when the collection started, so only the finalizer's own frames count.
            frame = None if _COLLECTING and frame.f_code.co_name == "__del__" else frame.f_back

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield
