"""Parse and normalise database URLs into SQLAlchemy async URLs."""

from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigurationError

# Accepted scheme (backend[+driver]) -> (backend, async driver scheme).
_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mysql+aiomysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mariadb+aiomysql": "mysql+aiomysql",
}


@dataclass(frozen=True)
class DatabaseTarget:
    backend: str  # "sqlite" | "postgresql" | "mysql"
    url: URL  # the async SQLAlchemy URL

    @property
    def is_memory(self) -> bool:
        return self.backend == "sqlite" and self.url.database in (None, "", ":memory:")


def parse_database_url(raw: str) -> DatabaseTarget:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"database URL must be a non-empty string, got {raw!r}")
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else None
    if scheme is None:
        raise ConfigurationError(
            f"malformed database URL {_redact(raw)!r}: expected scheme://..., "
            f"e.g. sqlite:///app.db or postgresql://user@host/db"
        )
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"unsupported database URL scheme {scheme!r} in {_redact(raw)!r}; supported: {', '.join(sorted(_SCHEMES))}"
        )
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"malformed database URL {_redact(raw)!r}: {exc}") from None
    async_scheme = _SCHEMES[scheme]
    backend = async_scheme.split("+")[0]
    url = url.set(drivername=async_scheme)
    if backend != "sqlite":
        if not url.host:
            raise ConfigurationError(f"database URL {_redact(raw)!r} names no host")
        if not url.database:
            raise ConfigurationError(f"database URL {_redact(raw)!r} names no database")
        if url.port is not None and not 0 < url.port < 65536:
            raise ConfigurationError(f"database URL {_redact(raw)!r}: port {url.port} is out of range")
    return DatabaseTarget(backend=backend, url=url)


def _redact(raw: str) -> str:
    """Hide a password so that error messages never leak it."""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:
        return raw.split("@")[-1] if "@" in raw else raw
