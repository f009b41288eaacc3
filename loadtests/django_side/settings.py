"""Django settings for the baseline, from the environment the load-test runner sets.

DFC_LOAD_DATABASE_URL: the run's database (the same one the DataFlow side uses).
DFC_LOAD_DJANGO_HASHER: "default" (Django's own default, PBKDF2-SHA256) or "bcrypt" (Django's
BCryptPasswordHasher: bcrypt, cost 12, the same algorithm and cost as the Kailash SDK's hasher).
"""

import os
import secrets

from sqlalchemy.engine import make_url

try:
    _URL = make_url(os.environ["DFC_LOAD_DATABASE_URL"])
except KeyError:
    raise RuntimeError("loadtests.django_side: set DFC_LOAD_DATABASE_URL to the database to use") from None

_HASHERS = {"default": None, "bcrypt": ["django.contrib.auth.hashers.BCryptPasswordHasher"]}
HASHER_CONFIG = os.environ.get("DFC_LOAD_DJANGO_HASHER", "default")
if HASHER_CONFIG not in _HASHERS:
    raise RuntimeError(f"DFC_LOAD_DJANGO_HASHER must be one of {sorted(_HASHERS)}, got {HASHER_CONFIG!r}")
if _HASHERS[HASHER_CONFIG]:
    PASSWORD_HASHERS = _HASHERS[HASHER_CONFIG]


def _database(url):
    backend = {"postgres": "postgresql", "mariadb": "mysql"}.get(url.get_backend_name(), url.get_backend_name())
    if backend == "sqlite":
        # Django's documented SQLite settings for concurrent use: WAL and BEGIN IMMEDIATE (as the reference does).
        options = {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 30}
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url.database, "OPTIONS": options}
    if backend == "mysql":
        import pymysql  # the project's MySQL driver; Django's mysql backend accepts it in place of mysqlclient

        pymysql.install_as_MySQLdb()
    engines = {"postgresql": "django.db.backends.postgresql", "mysql": "django.db.backends.mysql"}
    if backend not in engines:
        raise RuntimeError(f"loadtests.django_side: unsupported database {backend!r}")
    return {
        "ENGINE": engines[backend],
        "NAME": url.database,
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.host or "",
        "PORT": str(url.port or ""),
        "OPTIONS": {"charset": "utf8mb4"} if backend == "mysql" else {},
    }


DATABASES = {"default": {**_database(_URL), "CONN_MAX_AGE": 600}}  # persistent connections, as in production
SECRET_KEY = secrets.token_urlsafe(32)  # nothing signed outlives the process
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
MIDDLEWARE = []  # a JSON API, like the DataFlow app: no sessions, CSRF or templates on either side
ROOT_URLCONF = "loadtests.django_side.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
