"""Django settings for the baseline, from the environment the comparison's runner sets.

DFC_LOAD_DATABASE_URL: the run's database (the same one the DataFlow side uses).
DFC_LOAD_DJANGO_HASHER: "default" (Django's own default, PBKDF2-SHA256) or "bcrypt" (Django's
BCryptPasswordHasher: bcrypt, cost 12, the same algorithm and cost as the Kailash SDK's hasher).
"""

import importlib
import os
import secrets

from dataflow_conformance.backends.registry import BY_NAME, backend_of_scheme
from sqlalchemy.engine import make_url

try:
    _URL = make_url(os.environ["DFC_LOAD_DATABASE_URL"])
except KeyError:
    raise RuntimeError("harness.django_side: set DFC_LOAD_DATABASE_URL to the database to use") from None

_HASHERS = {"default": None, "bcrypt": ["django.contrib.auth.hashers.BCryptPasswordHasher"]}
HASHER_CONFIG = os.environ.get("DFC_LOAD_DJANGO_HASHER", "default")
if HASHER_CONFIG not in _HASHERS:
    raise RuntimeError(f"DFC_LOAD_DJANGO_HASHER must be one of {sorted(_HASHERS)}, got {HASHER_CONFIG!r}")
if _HASHERS[HASHER_CONFIG]:
    PASSWORD_HASHERS = _HASHERS[HASHER_CONFIG]


def _database(url):
    """Django's settings for the backend of `url` (the registry's django_engine and django_options)."""
    spec = BY_NAME.get(backend_of_scheme(url.get_backend_name()) or "")
    if spec is None or not spec.django_engine:
        raise RuntimeError(f"harness.django_side: no Django baseline for a {url.get_backend_name()!r} database")
    if spec.django_prepare:  # e.g. the project's MySQL driver in place of the one Django's backend expects
        module, _, function = spec.django_prepare.partition(":")
        getattr(importlib.import_module(module), function)()
    if not spec.server:
        return {"ENGINE": spec.django_engine, "NAME": url.database, "OPTIONS": dict(spec.django_options)}
    return {
        "ENGINE": spec.django_engine,
        "NAME": url.database,
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.host or "",
        "PORT": str(url.port or ""),
        "OPTIONS": dict(spec.django_options),
    }


DATABASES = {"default": {**_database(_URL), "CONN_MAX_AGE": 600}}  # persistent connections, as in production
SECRET_KEY = secrets.token_urlsafe(32)  # nothing signed outlives the process
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
MIDDLEWARE = []  # a JSON API, like the DataFlow app: no sessions, CSRF or templates on either side
ROOT_URLCONF = "harness.django_side.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
