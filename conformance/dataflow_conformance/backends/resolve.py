"""Find the database servers a run uses.

Resolution per backend, in order: --dataflow-dburi, the backend's environment variable
(DFC_POSTGRESQL_URL, DFC_MYSQL_URL), a testcontainers container (only when a Docker engine answers),
and for SQLite a file per test. A backend that was asked for and cannot be reached is an error,
never a skip; so is a --dataflow-dburi that no selected backend uses.
"""

import importlib
import os
from dataclasses import asdict, dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url

from .registry import BACKENDS, BY_NAME, EMBEDDED, BackendSpec, backend_of_scheme


class BackendUnavailable(Exception):
    """A requested backend cannot be reached, or was asked for wrongly; the message says what to do."""


@dataclass(frozen=True)
class Backend:
    """One database backend of this run."""

    name: str
    server_url: str | None  # None for SQLite: each test gets a file
    source: str  # "--dataflow-dburi", "environment", "testcontainers", "embedded"
    server_version: str = ""

    @property
    def features(self) -> BackendSpec:
        """The backend's registry entry: what the suite needs to know of it."""
        return BY_NAME[self.name]

    def as_dict(self) -> dict:
        return asdict(self)


def backend_of(url: str) -> str:
    scheme = url.split("://", 1)[0]
    name = backend_of_scheme(scheme)
    if name is None:
        known = sorted({s for f in BY_NAME.values() for s in f.url_schemes})
        raise BackendUnavailable(f"--dataflow-dburi {redacted(url)}: unknown scheme {scheme!r}; known: {known}")
    return name


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", None})  # None: a Unix socket


def probe_engine(url: URL, **options) -> Engine:
    """An engine of the kit's own driver on a probe URL (`probe_url`). The kit connects per query (its probes
    hold no idle connection), so a connection must be cheap: to a server on this machine it goes without TLS,
    which would protect nothing there, unless the URL names a TLS option."""
    features = BY_NAME[backend_of_scheme(url.get_backend_name())]
    asks_for_tls = any(key.startswith("ssl") for key in url.query)
    plaintext = url.host in LOOPBACK_HOSTS and not asks_for_tls
    return create_engine(url, connect_args=features.loopback_connect_args if plaintext else {}, **options)


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def plain_url(url: URL) -> str:
    """The URL in the documented DataFlow form (no driver suffix): what users pass to DataFlow()."""
    features = BY_NAME[backend_of_scheme(url.get_backend_name())]
    return url.set(drivername=features.scheme).render_as_string(hide_password=False)


def probe_url(url: URL, database: str) -> URL:
    """The same server and `database` through the kit's own driver."""
    features = BY_NAME[backend_of_scheme(url.get_backend_name())]
    return url.set(drivername=features.probe_driver, database=database)


def requested_backends(db_options: list[str]) -> list[str]:
    """--dataflow-db values (repeatable, `all`) as backend names, in order, without repeats."""
    names = [name for option in db_options for name in (BACKENDS if option == "all" else [option])]
    return list(dict.fromkeys(names))


def resolve(requested: list[str], dburis: list[str], environ=os.environ) -> tuple[list[Backend], list]:
    """Return the backends of this run and the containers started for it (to stop at the end).

    `requested` empty means: the embedded backend plus every server backend that has a URL configured.
    """
    explicit: dict[str, str] = {}
    for url in dburis:
        name = backend_of(url)
        if name in explicit:
            raise BackendUnavailable(
                f"two --dataflow-dburi URLs for {name}: {redacted(explicit[name])}, {redacted(url)}"
            )
        explicit[name] = url
    unused = [url for url in dburis if requested and backend_of(url) not in requested]
    if unused:
        raise BackendUnavailable(
            f"--dataflow-dburi {', '.join(redacted(u) for u in unused)} is for a backend this run does not select "
            f"(--dataflow-db {' '.join(requested)}); add --dataflow-db {backend_of(unused[0])} or drop the URL"
        )
    configured = {
        name: environ[f.environment_variable]
        for name, f in BY_NAME.items()
        if f.environment_variable and environ.get(f.environment_variable)
    }
    names = requested or [EMBEDDED, *[n for n in BY_NAME if BY_NAME[n].server and (n in explicit or n in configured)]]
    backends, containers = [], []
    for name in names:
        features = BY_NAME[name]
        if not features.server:
            backends.append(Backend(name, None, "embedded", server_version=_sqlite_version()))
            continue
        url, source = (
            (explicit[name], "--dataflow-dburi") if name in explicit else (configured.get(name), "environment")
        )
        if url is None:
            url, container = _start_container(features)
            containers.append(container)
            source = "testcontainers"
        backends.append(Backend(name, url, source, server_version=_server_version(name, url)))
    return backends, containers


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _server_version(name: str, url: str) -> str:
    try:
        engine = probe_engine(probe_url(make_url(url), make_url(url).database))
        with engine.connect() as conn:
            version = conn.execute(text("select version()")).scalar()
        engine.dispose()
    except Exception as exc:
        raise BackendUnavailable(
            f"{name} was requested but {redacted(url)} cannot be reached: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    return str(version)


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _start_container(features: BackendSpec):
    if features.container is None:
        raise BackendUnavailable(
            f"{features.name} was requested but no URL is configured ({features.environment_variable} or "
            "--dataflow-dburi), and the kit starts no container for it"
        )
    if not _docker_answers():
        raise BackendUnavailable(
            f"{features.name} was requested but no URL is configured ({features.environment_variable} or "
            f"--dataflow-dburi) and no Docker engine answers for testcontainers"
        )
    spec = features.container
    container_module = importlib.import_module(f"testcontainers.{spec.module}")
    container = getattr(container_module, spec.class_name)(spec.image, **spec.options)
    container.start()
    return plain_url(make_url(container.get_connection_url())), container
