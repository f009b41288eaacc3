"""What a report must say about where and how it was measured: machine, versions, settings."""

import os
import platform
import time
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version

import psutil

PACKAGES = [
    "dataflow-conformance",
    "kailash",
    "kailash-dataflow",
    "django",
    "locust",
    "uvicorn",
    "gunicorn",
    "starlette",
    "sqlalchemy",
    "asyncpg",
    "aiomysql",
    "aiosqlite",
    "psycopg",
    "pymysql",
    "bcrypt",
    "psutil",
]


def busy(load_1min: float, cores: int) -> bool:
    """Whether a 1-minute load average says the machine is not idle: above half its cores."""
    return load_1min > cores / 2


def settle(most_seconds: float, log) -> None:
    """Wait up to `most_seconds` for the machine to be idle (see `busy`): whatever else runs, or the
    previous backend's run, would otherwise skew every number; the report still says what the load
    was when the run began."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + most_seconds
    if busy(os.getloadavg()[0], cores) and most_seconds > 0:
        log(f"waiting up to {most_seconds:.0f} s for the 1-minute load average to fall to {cores / 2:g}")
    while busy(os.getloadavg()[0], cores) and time.monotonic() < deadline:
        time.sleep(5)


def describe(profile) -> dict:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    return {
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
        },
        "versions": {name: _version(name) for name in PACKAGES},
        "settings": {
            "kailash_runtime": "LocalRuntime(enable_monitoring=False) in the in-process job; "
            "AsyncLocalRuntime(enable_monitoring=False) in the DataFlow app: no run-tracking database",
            "dataflow_hasher": "bcrypt, cost 12 (kailash.nodes.admin.user_management.hash_password)",
            "django_default_hasher": f"PBKDF2-SHA256, {PBKDF2PasswordHasher.iterations:,} iterations",
            "django_same_hasher": "BCryptPasswordHasher (bcrypt, cost 12)",
            "django_database": "CONN_MAX_AGE=600 (persistent connections); SQLite: WAL, BEGIN IMMEDIATE, timeout 30 s",
            "django_middleware": "none (a JSON API, like the DataFlow app)",
            "server_connections": "8 per worker on both sides: Django one persistent connection per gthread "
            "thread, the DataFlow app DataFlow(url, pool_size=8)",
            "bulk_import": "1,000 users whose passwords arrive already hashed, in one call",
            "http_mix": "per simulated user: permission check 75% / list a page 24% / create a user 1%",
            "profile": asdict(profile),
        },
    }


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
