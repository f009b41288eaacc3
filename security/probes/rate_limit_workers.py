"""What one process of the cross-process rate-limit probe does (security/probes/shared_rate_limit.py): from a
given instant, ask the shared limiter `calls` times at once, then once more after the window. Each side's
limiter is built here, in the child process, as a user of that side builds it."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor


def _wait_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.time()))


def _start_at(ready, go, start) -> float:
    """Say this process is ready (imported, connected), wait for every other to be, and return the shared instant
    the parent picked: the bursts then overlap however long each interpreter took to start."""
    ready.put(True)
    go.wait(120)
    return start.value


# -- Kailash SDK: kailash.trust.rate_limit.backends.redis.RedisBackend ------------------------------------------


def kailash_process(url: str, prefix: str, calls: int, limit: int, window: int, sync, out) -> None:
    from kailash.trust.rate_limit.backends.redis import RedisBackend

    async def main():
        backend = RedisBackend(url, key_prefix=prefix, timeout_seconds=2.0)
        await backend.initialize()

        async def admit():
            allowed, _, _ = await backend.check_and_record("client", limit=limit, window_seconds=window)
            return allowed

        start_at = await asyncio.to_thread(_start_at, *sync)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.time()
        burst = await asyncio.gather(*(admit() for _ in range(calls)))
        ended = time.time()
        await asyncio.sleep(window + 0.3)  # a whole window after this process's last request
        return sum(burst), await admit(), (began, ended)

    out.put(asyncio.run(main()))


def kailash_unavailable(url: str, calls: int, limit: int, fail_open: bool | None, out) -> None:
    """`calls` checks against a Redis that does not answer: (admitted, error) with the backend's default
    fail mode (fail_open None) or the one given."""
    from kailash.trust.rate_limit.backends.redis import RedisBackend

    async def main():
        options = {} if fail_open is None else {"fail_open": fail_open}
        backend = RedisBackend(url, key_prefix="dfc:down:", timeout_seconds=1.0, **options)
        try:
            await backend.initialize()
            results = [await backend.check_and_record("client", limit=limit, window_seconds=1) for _ in range(calls)]
        except Exception as exc:  # what the caller gets instead of an answer
            return 0, f"{type(exc).__module__}.{type(exc).__name__}"
        return sum(allowed for allowed, _, _ in results), ""

    out.put(asyncio.run(main()))


# -- Django: django-ratelimit on Django's own Redis cache backend ----------------------------------------------


def _django(url: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        },  # fmt: skip
        RATELIMIT_USE_CACHE="default",
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="rate-limit-probe",
        USE_TZ=True,
    )
    django.setup()


def _django_admit(group: str, rate: str):
    from django.test import RequestFactory
    from django_ratelimit.core import is_ratelimited

    request = RequestFactory().get("/")

    def admit(_=None):
        return not is_ratelimited(request, group=group, key=lambda g, r: "client", rate=rate, increment=True)

    return admit


def django_process(url: str, group: str, calls: int, limit: int, window: int, sync, out) -> None:
    _django(url)
    admit = _django_admit(group, f"{limit}/{window}s")
    with ThreadPoolExecutor(calls) as pool:
        start_at = _start_at(*sync)
        _wait_until(start_at)
        began = time.time()
        burst = sum(pool.map(admit, range(calls)))
        ended = time.time()
    _wait_until(start_at + window + 0.3)  # fixed windows: the next one
    out.put((burst, admit(), (began, ended)))


def django_unavailable(url: str, calls: int, limit: int, out) -> None:
    _django(url)
    admit = _django_admit("down", f"{limit}/1s")
    try:
        out.put((sum(admit() for _ in range(calls)), ""))
    except Exception as exc:
        out.put((0, f"{type(exc).__module__}.{type(exc).__name__}"))
