"""Rate limiting: N requests admitted within the window, the next refused, admitted again after the window;
50 concurrent callers never get more than N admitted; state shared across processes where the component
claims it.

Kailash (built in): `kailash.nodes.api.rate_limiting.SlidingWindowRateLimiter` and
`kailash.trust.rate_limit.InMemoryBackend`; its cross-process backend (`...backends.redis.RedisBackend`)
needs a Redis server. Django: django-ratelimit (third party), whose shared state needs memcached or Redis
(its own system check rejects the local-memory, file and database caches for that). The cross-process rows,
on the machine's Redis, are shared_rate_limit.py's."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, Finding, package

LIMIT, WINDOW, CALLERS = 10, 1.0, 50


def run(context) -> list[Finding]:
    from .shared_rate_limit import run as shared  # across processes, on Redis

    across = shared(context)
    kailash, django = [f for f in across if f.side == KAILASH], [f for f in across if f.side == DJANGO]
    return [_sliding_window(), _trust_backend(), *kailash, _django(), *django]


def _sequence(admit) -> tuple[list[bool], bool]:
    """LIMIT + 1 calls at once, then one after the window: (first calls admitted?, admitted after window?)."""
    burst = [admit() for _ in range(LIMIT + 1)]
    time.sleep(WINDOW + 0.2)
    return burst, admit()


def _concurrent(admit) -> int:
    """CALLERS threads released together, each asking once: how many were admitted."""
    barrier = threading.Barrier(CALLERS)

    def call(_):
        barrier.wait()
        return admit()

    with ThreadPoolExecutor(CALLERS) as pool:
        return sum(pool.map(call, range(CALLERS)))


def _judge(claim_side, component, tried, burst, after, concurrent, extra="") -> Finding:
    admitted = sum(burst)
    measured = (
        f"{admitted} of {LIMIT + 1} admitted at once (limit {LIMIT} per {WINDOW:g} s); after the window: "
        f"{'admitted' if after else 'refused'}; {CALLERS} concurrent callers: {concurrent} admitted{extra}"
    )
    problems = []
    if burst[:LIMIT] != [True] * LIMIT or burst[LIMIT]:
        problems.append(f"the burst admitted {admitted} (expected exactly {LIMIT})")
    if not after:
        problems.append("refused after the window")
    if concurrent != LIMIT:
        problems.append(f"{concurrent} of {CALLERS} concurrent callers admitted (expected {LIMIT})")
    verdict = FAILS if problems else HOLDS
    reason = "; ".join(problems) or "exact admission in the window, under concurrency and after it (one process)"
    return Finding("rate_limiting", claim_side, component, tried, measured, verdict, reason)


def _sliding_window() -> Finding:
    from kailash.nodes.api.rate_limiting import RateLimitConfig, SlidingWindowRateLimiter

    def limiter():
        return SlidingWindowRateLimiter(RateLimitConfig(max_requests=LIMIT, time_window=WINDOW))

    burst, after = _sequence(limiter().consume)
    concurrent = _concurrent(limiter().consume)
    component = f"kailash.nodes.api.rate_limiting.SlidingWindowRateLimiter ({package('kailash')}, built in)"
    tried = "consume() per request; threads released together by a barrier"
    return _judge(KAILASH, component, tried, burst, after, concurrent)


def _trust_backend() -> Finding:
    from kailash.trust.rate_limit import InMemoryBackend

    def admit_with(backend):
        def admit():
            allowed, _, _ = asyncio.run(backend.check_and_record("client", limit=LIMIT, window_seconds=int(WINDOW)))
            return allowed

        return admit

    burst, after = _sequence(admit_with(InMemoryBackend()))
    concurrent = _concurrent(admit_with(InMemoryBackend()))
    component = f"kailash.trust.rate_limit.InMemoryBackend ({package('kailash')}, built in; token bucket)"
    tried = "check_and_record() per request (its atomic call), each on its own thread and event loop"
    return _judge(KAILASH, component, tried, burst, after, concurrent)


def _django() -> Finding:
    from django.test import RequestFactory
    from django_ratelimit.core import is_ratelimited

    rate = f"{LIMIT}/{int(WINDOW)}s"

    def admit_in(group):
        request = RequestFactory().get("/")

        def admit():
            limited = is_ratelimited(request, group=group, key=lambda g, r: "client", rate=rate, increment=True)
            return not limited

        return admit

    # django-ratelimit counts in fixed windows: start at the beginning of one so the burst stays inside it
    time.sleep(WINDOW - (time.time() % WINDOW) + 0.01)
    burst, after = _sequence(admit_in("burst"))
    concurrent = _concurrent(admit_in("concurrent"))
    component = f"django-ratelimit ({package('django-ratelimit')}, third party), local-memory cache"
    tried = f"is_ratelimited(rate='{rate}', increment=True) per request; threads released together by a barrier"
    finding = _judge(DJANGO, component, tried, burst, after, concurrent)
    if finding.verdict == HOLDS:
        finding.reason = "not built into Django; django-ratelimit admits exactly, in one process"
    return finding
