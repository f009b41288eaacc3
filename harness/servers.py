"""Start the two app servers on loopback and sample their memory and CPU with psutil.

DataFlow: uvicorn serving the Starlette app (`harness.dataflow_app:app`).
Django: gunicorn serving the WSGI app with gthread workers (Django's ORM is synchronous).
Both get the same number of worker processes; RSS is summed over the server's process tree.
"""

import contextlib
import csv
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

# Database connections each server worker keeps open: Django one per gthread thread (its ORM blocks, so
# requests overlap on threads; CONN_MAX_AGE keeps the connections), DataFlow a pool of the same size
# (with the default pool, SQLAlchemy closes every connection above 5 when it is returned).
CONNECTIONS_PER_WORKER = 8
DJANGO_THREADS = CONNECTIONS_PER_WORKER


def server_command(app: str, port: int, workers: int) -> list[str]:
    bind = ["--host", "127.0.0.1", "--port", str(port)]
    if app == "django":
        return [
            *_tool("gunicorn"),
            "harness.django_side.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(DJANGO_THREADS),
            "--log-level",
            "warning",
        ]
    return [
        *_tool("uvicorn"),
        "harness.dataflow_app:app",
        *bind,
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def describe(app: str, workers: int) -> str:
    if app == "django":
        return (
            f"gunicorn {_version('gunicorn')}, {workers} gthread workers x {DJANGO_THREADS} threads, "
            "one persistent connection per thread"
        )
    return (
        f"uvicorn {_version('uvicorn')}, {workers} workers (asyncio event loop each), "
        f"DataFlow pool_size={CONNECTIONS_PER_WORKER} per worker"
    )


@contextlib.contextmanager
def running_server(app: str, workers: int, env: dict, log: Path):
    """Start the server, wait until it answers, yield (base URL, psutil.Process), then stop it."""
    port = _free_port()
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            server_command(app, port, workers), env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, process, log)
            yield base, psutil.Process(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def warm_up(base: str, user_id: int, concurrency: int = 32, rounds: int = 4) -> None:
    """Concurrent requests before anything is measured, so that every worker has imported its code and
    every thread (Django) or pool slot (DataFlow) has opened its database connection."""

    def get(i: int) -> None:
        path = f"/users/{user_id}/permissions/perm_00" if i % 2 else "/users?page=0"
        with urllib.request.urlopen(base + path, timeout=60) as response:
            response.read()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, range(concurrency * rounds)))


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


class Sampler(threading.Thread):
    """Every `interval` seconds: server RSS and CPU, and the load generator's CPU, into a CSV."""

    def __init__(self, server: psutil.Process, path: Path, interval: float = 0.25):
        super().__init__(daemon=True)
        self.server, self.path, self.interval = server, path, interval
        self.generator: psutil.Process | None = None
        self.stopped = threading.Event()
        self._tracked: dict[int, psutil.Process] = {}  # psutil measures CPU between calls on the same object

    def run(self):
        with open(self.path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time", "server_rss_bytes", "server_cpu_percent", "generator_cpu_percent"])
            while not self.stopped.wait(self.interval):
                cpu = [self._tree_cpu(self.server), self._tree_cpu(self.generator)]
                writer.writerow([f"{time.time():.3f}", tree_rss(self.server), *cpu])

    def stop(self):
        self.stopped.set()
        self.join()

    def _tree_cpu(self, root: psutil.Process | None) -> float:
        """CPU percent of a process tree since the previous sample (100 = one core busy)."""
        if root is None:
            return 0.0
        total = 0.0
        for proc in [root, *_children(root)]:
            tracked = self._tracked.setdefault(proc.pid, proc)
            with contextlib.suppress(psutil.NoSuchProcess):
                total += tracked.cpu_percent(None)
        return round(total, 1)


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _tool(name: str) -> list[str]:
    return [sys.executable, "-m", name]


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(base + "/users?page=0", timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


ROOT = Path(__file__).resolve().parent.parent  # the checkout: `harness` is imported from here


def child_env(**values: str) -> dict:
    """The environment for a server or Locust process: this one's, plus the run's settings."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **values}
