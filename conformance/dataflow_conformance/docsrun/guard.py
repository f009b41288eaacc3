"""A page's process reaches only the configured database server (and servers the examples start).

Examples name servers: `redis://localhost:6379`, a Kafka broker, an HTTP API, a PostgreSQL the run was
not given. On a machine that happens to run such a server, the example would use it, and a SQLite run
would quietly write to the machine's PostgreSQL. The guard refuses every connection but the configured
server's and loopback ports this process itself listens on, fast, with an error that names the server;
page.py reads what was refused to report the block as needing that server.

It is an audit hook (PEP 578: every socket connect, name lookup and bind in the process, whatever the
library) plus a check of libpq's connection parameters for psycopg and psycopg2, whose C library opens
its sockets outside Python. Audit hooks cannot be removed: the guard is installed only in a page's own
process (page.py), never in a process that lives on.
"""

import socket
import sys
import weakref
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0"}
SERVICES = {
    5432: "PostgreSQL",
    3306: "MySQL",
    6379: "Redis",
    27017: "MongoDB",
    9092: "Kafka",
    5672: "RabbitMQ",
    11211: "Memcached",
    9200: "Elasticsearch",
    80: "HTTP",
    443: "HTTPS",
}


class UnconfiguredServer(ConnectionRefusedError):
    """A connection the docs run refused: no such server is configured for it."""


def describe(host: str, port: int | None) -> str:
    service = SERVICES.get(port or 0, "a server")
    return f"{service} at {host}:{port}" if port else f"{service} at {host}"


class NetworkGuard:
    def __init__(self, server_url: str | None):
        self.allowed: set[tuple[str, int]] = set()
        if server_url:
            parts = urlsplit(server_url)
            if parts.hostname:
                host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
                self.allowed.add((host, parts.port or 0))
        self.listening: weakref.WeakSet = weakref.WeakSet()
        self.refused: list[str] = []  # what the current block tried to reach

    def install(self) -> None:
        sys.addaudithook(self._audit)
        _wrap_libpq(self)

    def take_refused(self) -> list[str]:
        refused, self.refused = self.refused, []
        return refused

    def permits(self, host: str, port: int | None) -> bool:
        host = "127.0.0.1" if host in ("localhost", "::1", "0.0.0.0") else host
        if (host, port or 0) in self.allowed:
            return True
        if host == "127.0.0.1":
            return port in self._own_ports()
        return False

    def refuse(self, host: str, port: int | None) -> None:
        what = describe(host, port)
        self.refused.append(what)
        raise UnconfiguredServer(f"docs run: {what} is not configured for this run, so the example cannot reach it")

    def _own_ports(self) -> set[int]:
        ports = set()
        for sock in list(self.listening):
            try:
                ports.add(sock.getsockname()[1])
            except (OSError, IndexError, TypeError):
                continue
        return ports

    def _audit(self, event: str, args: tuple) -> None:
        if event == "socket.bind":
            sock, _ = args
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                self.listening.add(sock)
        elif event == "socket.connect":
            sock, address = args
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not self.permits(address[0], address[1]):
                self.refuse(address[0], address[1])
            if sock.family == socket.AF_UNIX and isinstance(address, str) and ".s.PGSQL." in address:
                self.refuse(f"unix socket {address}", None)  # libpq's default: the local PostgreSQL
        elif event == "socket.getaddrinfo":
            host, port = args[0], args[1]
            if isinstance(host, bytes):
                host = host.decode()
            if host and host not in LOOPBACK and not any(host == allowed for allowed, _ in self.allowed):
                self.refuse(host, port if isinstance(port, int) else None)


def _wrap_libpq(guard: NetworkGuard) -> None:
    """psycopg2.connect and psycopg's connect check the host and port libpq would use (its default is the
    local server's Unix socket) before libpq opens anything."""
    try:
        import psycopg2
        import psycopg2.extensions
    except ImportError:
        psycopg2 = None
    if psycopg2 is not None:
        original2 = psycopg2.connect

        def connect2(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
            params = {**psycopg2.extensions.parse_dsn(dsn or ""), **kwargs}
            _check_libpq(guard, params)
            return original2(dsn, connection_factory, cursor_factory, **kwargs)

        psycopg2.connect = connect2
    try:
        import psycopg
        from psycopg import conninfo
    except ImportError:
        return
    for cls in (psycopg.Connection, psycopg.AsyncConnection):
        _wrap_psycopg(cls, guard, conninfo)


def _wrap_psycopg(cls, guard: NetworkGuard, conninfo) -> None:
    original = cls.connect.__func__

    def connect(klass, conninfo_text="", **kwargs):
        params = conninfo.conninfo_to_dict(conninfo.make_conninfo(conninfo_text, **kwargs))
        _check_libpq(guard, params)
        return original(klass, conninfo_text, **kwargs)

    cls.connect = classmethod(connect)


def _check_libpq(guard: NetworkGuard, params: dict) -> None:
    host = str(params.get("host") or params.get("hostaddr") or "")
    port = int(params.get("port") or 5432)
    if not host or host.startswith("/"):
        guard.refuse(f"unix socket {host or '(default)'}", port)
    for name in host.split(","):
        if not guard.permits(name, port):
            guard.refuse(name, port)
