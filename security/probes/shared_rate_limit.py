"""Rate limiting shared across processes, against a real Redis (DFC_REDIS_URL, default the machine's
redis://127.0.0.1:6379/15): two processes ask the same limiter at the same instant, LIMIT times each; together
they must be admitted exactly LIMIT times, and again after the window. Then the same limiter with Redis
unavailable (nothing listens on the port): does it fail open (admit everything) or closed (refuse, or raise)?

Kailash: `kailash.trust.rate_limit.backends.redis.RedisBackend` (built in; documented `fail_open=True` by default).
Django: django-ratelimit (third party) on Django's own `RedisCache` (documented `RATELIMIT_FAIL_OPEN = False`)."""

import multiprocessing
import os
import time
import uuid

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, UNKNOWN, Finding, package
from . import rate_limit_workers as workers

LIMIT, WINDOW, PROCESSES = 10, 3, 2  # a window long enough for a burst on a loaded machine
DEFAULT_URL = "redis://127.0.0.1:6379/15"
UNREACHABLE = "redis://127.0.0.1:1/0"  # port 1: nothing listens there
LEAD = 0.3  # seconds between the last process saying it is ready and the shared instant


def redis_url() -> str:
    return os.environ.get("DFC_REDIS_URL", DEFAULT_URL)


def run(context=None) -> list[Finding]:
    server = _server(redis_url())
    if server is None:
        reason = f"no Redis answers at {redis_url()} (set DFC_REDIS_URL; .ci/run starts redis-server)"
        return [Finding("rate_limiting", side, component, "limit shared by two processes", "—", UNKNOWN, reason)
                for side, component in ((KAILASH, _KAILASH), (DJANGO, _DJANGO))]  # fmt: skip
    return [_shared(KAILASH, server), _unavailable_kailash(), _shared(DJANGO, server), _unavailable_django()]


_KAILASH = "kailash.trust.rate_limit.backends.redis.RedisBackend"
_DJANGO = "django-ratelimit with django.core.cache.backends.redis.RedisCache"


def _server(url: str) -> str | None:
    try:
        import redis

        return "Redis " + redis.Redis.from_url(url, socket_connect_timeout=2).info("server")["redis_version"]
    except Exception:
        return None


def _processes(target, args: tuple, fixed_windows: bool) -> list:
    """Run `target` in PROCESSES fresh interpreters (nothing shared but Redis), released at one instant once all
    are ready; with fixed windows the instant is just after a window begins, so every request falls in one."""
    context = multiprocessing.get_context("spawn")
    out, ready, go, start = context.Queue(), context.Queue(), context.Event(), context.Value("d", 0.0)
    children = [context.Process(target=target, args=(*args, (ready, go, start), out)) for _ in range(PROCESSES)]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=120)
    instant = time.time() + LEAD
    if fixed_windows:
        instant = (int(instant / WINDOW) + 1) * WINDOW + 0.05
    start.value = instant
    go.set()
    results = [out.get(timeout=120) for _ in children]
    for child in children:
        child.join(30)
    return results


def _shared(side: str, server: str) -> Finding:
    if side == KAILASH:
        prefix = f"dfc:{uuid.uuid4().hex}:"
        results = _processes(workers.kailash_process, (redis_url(), prefix, LIMIT, LIMIT, WINDOW), False)
        component = f"{_KAILASH} ({package('kailash')}, built in; sliding window in a Lua script)"
        tried = f"{PROCESSES} processes, one key prefix, {LIMIT} check_and_record() calls each at one instant"
    else:
        group = f"dfc-{uuid.uuid4().hex}"  # django-ratelimit counts in fixed windows
        results = _processes(workers.django_process, (redis_url(), group, LIMIT, LIMIT, WINDOW), True)
        component = f"django-ratelimit ({package('django-ratelimit')}, third party) with Django's RedisCache"
        tried = f"{PROCESSES} processes, one group, {LIMIT} is_ratelimited(increment=True) calls each on threads at one instant"
    admitted = sum(burst for burst, _, _ in results)
    after = all(again for _, again, _ in results)
    per = " + ".join(str(burst) for burst, _, _ in results)
    spans = [span for _, _, span in results]
    overlap = min(end for _, end in spans) - max(begin for begin, _ in spans)
    together = f"the processes' bursts overlapped for {overlap * 1000:.0f} ms" if overlap > 0 else (
        f"the bursts did not overlap (apart by {-overlap * 1000:.0f} ms)")  # fmt: skip
    measured = (
        f"{admitted} of {PROCESSES * LIMIT} admitted together ({per}; limit {LIMIT} per {WINDOW} s, shared; "
        f"{together}); after the window: {'admitted' if after else 'refused'} in every process; {server}, "
        f"{package('redis')}"
    )
    problems = []
    if admitted != LIMIT:
        problems.append(f"the processes were admitted {admitted} times together (expected exactly {LIMIT})")
    if not after:
        problems.append("refused after the window")
    reason = (
        "; ".join(problems) or f"one limit across {PROCESSES} processes: exact admission, and again after the window"
    )
    return Finding("rate_limiting", side, component, tried + f" ({tried_at(server)})", measured,
                   FAILS if problems else HOLDS, reason)  # fmt: skip


def tried_at(server: str) -> str:
    return f"against {server} at {redis_url().rsplit('@', 1)[-1]}"


def _one(target, *args):
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=target, args=(*args, out))
    child.start()
    result = out.get(timeout=120)
    child.join(30)
    return result


def _unavailable_kailash() -> Finding:
    calls = LIMIT + 1
    admitted, error = _one(workers.kailash_unavailable, UNREACHABLE, calls, LIMIT, None)
    strict_admitted, strict_error = _one(workers.kailash_unavailable, UNREACHABLE, calls, LIMIT, False)
    default = f"{admitted} of {calls} admitted" + (f", raises {error}" if error else ", no error")
    strict = f"{strict_admitted} of {calls} admitted" + (f", raises {strict_error}" if strict_error else ", no error")
    measured = f"default: {default}; fail_open=False: {strict}"
    opens = admitted == calls and not error
    closes = strict_admitted == 0 and bool(strict_error)
    verdict = HOLDS if opens and closes else FAILS
    reason = (
        "FAILS OPEN by default (every request admitted while Redis is down, as documented: fail_open=True); "
        "fail_open=False fails closed (the caller gets an exception, nothing is admitted)"
        if verdict == HOLDS
        else f"not as documented (fail_open=True admits, fail_open=False raises): {measured}"
    )
    tried = f"Redis unavailable (nothing listens at {UNREACHABLE}): {calls} check_and_record() calls"
    return Finding("rate_limiting", KAILASH, f"{_KAILASH} ({package('kailash')})", tried, measured, verdict, reason)


def _unavailable_django() -> Finding:
    calls = LIMIT + 1
    admitted, error = _one(workers.django_unavailable, UNREACHABLE, calls, LIMIT)
    measured = f"{admitted} of {calls} admitted" + (f"; is_ratelimited raises {error}" if error else "; no error")
    if error:
        verdict, reason = (
            HOLDS,
            (
                "FAILS CLOSED, by an exception: Django's RedisCache raises and django-ratelimit passes it on, so the "
                "view answers 500 (RATELIMIT_FAIL_OPEN=False is the default; its fail-open path covers only a cache "
                "that answers without a count)"
            ),
        )
    elif admitted == 0:
        verdict, reason = HOLDS, "FAILS CLOSED: every request limited while Redis is down (RATELIMIT_FAIL_OPEN=False)"
    else:
        verdict, reason = FAILS, f"FAILS OPEN although RATELIMIT_FAIL_OPEN is False: {admitted} of {calls} admitted"
    tried = f"Redis unavailable (nothing listens at {UNREACHABLE}): {calls} is_ratelimited() calls"
    return Finding("rate_limiting", DJANGO, f"django-ratelimit ({package('django-ratelimit')}) with RedisCache",
                   tried, measured, verdict, reason)  # fmt: skip
