"""Parse and normalise database URLs into SQLAlchemy async URLs."""

from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .dialects import BY_SCHEME, Dialect
from .errors import ConfigurationError


@dataclass(frozen=True)
class DatabaseTarget:
    dialect: Dialect
    url: URL  # the async SQLAlchemy URL

    @property
    def backend(self) -> str:
        return self.dialect.name

    @property
    def is_memory(self) -> bool:
        return self.dialect.is_memory(self.url)


def parse_database_url(raw: str) -> DatabaseTarget:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"database URL must be a non-empty string, got {raw!r}")
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else None
    if scheme is None:
        raise ConfigurationError(
            f"malformed database URL {_redact(raw)!r}: expected scheme://..., "
            f"e.g. sqlite:///app.db or postgresql://user@host/db"
        )
    if scheme not in BY_SCHEME:
        raise ConfigurationError(
            f"unsupported database URL scheme {scheme!r} in {_redact(raw)!r}; supported: {', '.join(sorted(BY_SCHEME))}"
        )
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"malformed database URL {_redact(raw)!r}: {exc}") from None
    dialect = BY_SCHEME[scheme]
    url = url.set(drivername=dialect.async_driver)
    problem = dialect.check_url(url, _redact(raw))
    if problem is not None:
        raise ConfigurationError(problem)
    return DatabaseTarget(dialect=dialect, url=url)


def _redact(raw: str) -> str:
    """Hide a password so that error messages never leak it."""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:
        return raw.split("@")[-1] if "@" in raw else raw
