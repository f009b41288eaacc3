"""An exception nobody handled, in any thread or task, fails the test it happened in: pytest's own
thread-exception and unraisable-exception checks, made errors; asyncio's unretrieved task errors join the
latter (asyncio only logs them)."""

import logging
import sys
import types


def fail_on_unhandled_exceptions(config) -> None:
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnhandledThreadExceptionWarning")
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")
    logger = logging.getLogger("asyncio")
    if not any(isinstance(handler, AsyncioErrorsAreUnraisable) for handler in logger.handlers):
        logger.addHandler(AsyncioErrorsAreUnraisable())


class AsyncioErrorsAreUnraisable(logging.Handler):
    """asyncio logs what no task handled (an exception never retrieved, a task destroyed while pending);
    hand it to sys.unraisablehook, which pytest checks after every test phase."""

    def __init__(self):
        super().__init__(logging.ERROR)

    def emit(self, record):
        error = record.exc_info[1] if record.exc_info else None
        error = error if error is not None else RuntimeError(record.getMessage())
        sys.unraisablehook(
            types.SimpleNamespace(
                exc_type=type(error),
                exc_value=error,
                exc_traceback=error.__traceback__,
                err_msg=f"asyncio: {record.getMessage()}",
                object=None,
            )
        )
