"""What a load-test report must say about how it was measured: the machine and versions (harness), and
the settings of both sides."""

from dataclasses import asdict

from harness.environment import machine, versions

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


def describe(profile) -> dict:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    return {
        "machine": machine(),
        "versions": versions(PACKAGES),
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
