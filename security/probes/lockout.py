"""Automatic account lockout and IP-based blocking: after the configured failures the next attempt is refused
even with the right credential, it is admitted again once the lockout has expired (as documented), and
failures from one IP against many accounts block that IP.

Kailash: `kailash.nodes.auth.EnterpriseAuthProviderNode` (built in: `max_login_attempts`, `lockout_duration`),
authenticating with issued API keys; `kailash.nodes.security.ThreatDetectionNode`'s `block_ip` response.
Django: django-axes (third party; Django itself has neither)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, Finding, package

LIMIT, LOCKOUT_S = 3, 2.0


def run(context) -> list[Finding]:
    return [_kailash(), _kailash_block_ip(), _django()]


def _verdict(locked, unlocked, ip_blocked, unlock_note=""):
    problems = [
        text
        for failed, text in (
            (not locked, f"the right key was admitted after {LIMIT} failures"),
            (not unlocked, f"still refused {LOCKOUT_S + 0.5:g} s after a {LOCKOUT_S:g} s lockout" + unlock_note),
            (not ip_blocked, f"an IP with {LIMIT} failures against other accounts was not blocked"),
        )
        if failed
    ]
    return (FAILS if problems else HOLDS), "; ".join(problems)


def _kailash() -> Finding:
    from kailash.nodes.auth import EnterpriseAuthProviderNode

    keys = {"alice": "key-alice-0123456789abcdef", "bob": "key-bob-0123456789abcdef"}
    node = EnterpriseAuthProviderNode(
        enabled_methods=["api_key"],
        max_login_attempts=LIMIT,
        lockout_duration=timedelta(seconds=LOCKOUT_S),
        risk_assessment_enabled=False,
    )
    node.api_key_store = {node._api_key_digest(k): {"user_id": user} for user, k in keys.items()}

    def login(user, key, ip="198.51.100.7"):
        result = asyncio.run(
            node.async_run(
                action="authenticate",
                auth_method="api_key",
                credentials={"api_key": key},
                user_id=user,
                ip_address=ip,
            )
        )
        return bool(result.get("authenticated"))

    good = login("alice", keys["alice"])
    for _ in range(LIMIT):
        login("alice", "wrong-key")
    locked = not login("alice", keys["alice"])
    time.sleep(LOCKOUT_S + 0.5)
    unlocked = login("alice", keys["alice"])
    for n in range(LIMIT):  # one IP, many accounts: credential stuffing
        login(f"victim-{n}", "wrong-key", ip="203.0.113.9")
    ip_blocked = not login("bob", keys["bob"], ip="203.0.113.9")
    # why it stays locked: the check that finds the lock expired counts the failures again (of the last hour)
    note = " (the expired lock is replaced at once: the failures of the last hour still count)"
    verdict, reason = _verdict(locked, unlocked, ip_blocked, note)
    measured = (
        f"right key admitted before: {good}; after {LIMIT} wrong keys: {'refused' if locked else 'admitted'}; "
        f"{LOCKOUT_S + 0.5:g} s later (lockout {LOCKOUT_S:g} s): {'admitted' if unlocked else 'refused'}; after "
        f"{LIMIT} failures from one IP on other accounts, another account from that IP: "
        f"{'refused' if ip_blocked else 'admitted'}"
    )
    component = f"kailash.nodes.auth.EnterpriseAuthProviderNode ({package('kailash')}, built in)"
    tried = f"authenticate with API keys: max_login_attempts={LIMIT}, lockout_duration={LOCKOUT_S:g} s"
    return Finding("lockout", KAILASH, component, tried, measured, verdict, reason or "locks, unlocks and blocks")


def _kailash_block_ip() -> Finding:
    import logging

    from kailash.nodes.security import ThreatDetectionNode

    node = ThreatDetectionNode(detection_rules=["brute_force"], response_actions=["block_ip"])
    now = datetime.now(UTC)
    events = [
        {"type": "login", "user": "alice", "ip": "203.0.113.50", "failed": True, "timestamp": now.isoformat()}
        for _ in range(10)
    ]
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    root = logging.getLogger()
    level, root.level = root.level, logging.INFO
    root.addHandler(handler)
    try:
        result = node.execute(events=events)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    actions = result["analysis"]["response_actions_taken"]
    blocked = [r for r in records if "ip_blocked" in r.getMessage() or "Would block IP" in r.getMessage()]
    measured = (
        f"{len(result['threats'])} brute-force threat(s) detected, response actions taken: {actions}; what the "
        f"action produced: {len(blocked)} log record(s) ('{blocked[0].getMessage()[:80] if blocked else ''}'); "
        "the SDK offers no call that asks whether an IP is blocked, and nothing refuses its next request"
    )
    component = f"kailash.nodes.security.ThreatDetectionNode response_actions=['block_ip'] ({package('kailash')})"
    tried = "10 failed logins of one user from one IP, then the node's block_ip response"
    reason = "block_ip only logs an event (its source: 'Would block IP'); no IP is refused afterwards"
    return Finding("lockout", KAILASH, component, tried, measured, FAILS, reason)


def _django() -> Finding:
    from axes.utils import reset
    from django.contrib.auth import authenticate
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    User.objects.create_user("alice", "alice@example.com", "right password")
    User.objects.create_user("bob", "bob@example.com", "bob password")

    def login(username, password, ip="198.51.100.7"):
        request = RequestFactory().post("/login", REMOTE_ADDR=ip)
        return authenticate(request, username=username, password=password) is not None

    reset()
    good = login("alice", "right password")
    for _ in range(LIMIT):
        login("alice", "wrong")
    locked = not login("alice", "right password")
    time.sleep(LOCKOUT_S + 0.5)
    unlocked = login("alice", "right password")
    for n in range(LIMIT):
        login(f"victim-{n}", "wrong", ip="203.0.113.9")
    ip_blocked = not login("bob", "bob password", ip="203.0.113.9")
    verdict, reason = _verdict(locked, unlocked, ip_blocked)
    measured = (
        f"right password admitted before: {good}; after {LIMIT} wrong: {'refused' if locked else 'admitted'}; "
        f"{LOCKOUT_S + 0.5:g} s later (cool-off {LOCKOUT_S:g} s): {'admitted' if unlocked else 'refused'}; after "
        f"{LIMIT} failures from one IP on other accounts, another account from that IP: "
        f"{'refused' if ip_blocked else 'admitted'}"
    )
    component = f"django-axes ({package('django-axes')}, third party: Django has no lockout)"
    tried = (
        f"django.contrib.auth.authenticate with AXES_FAILURE_LIMIT={LIMIT}, AXES_COOLOFF_TIME={LOCKOUT_S:g} s, "
        "AXES_LOCKOUT_PARAMETERS=['username', 'ip_address']"
    )
    if verdict == HOLDS:
        reason = "not in Django; django-axes locks, unlocks after the cool-off and blocks the IP"
    return Finding("lockout", DJANGO, component, tried, measured, verdict, reason)
