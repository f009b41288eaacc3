"""Real-time alerts: an alert must reach a subscriber within the claim's bound after the event.

Kailash ("WebSocket"): the documented live channel is `EnterpriseAuditLogNode(operation="monitor_realtime")`
(it needs the stored audit log, see the audit claim); the alert path of the security nodes is
`ThreatDetectionNode(response_actions=["alert"])` -> `SecurityEventNode`, which writes a log record. The
subscriber here is a logging handler in the same process (the only channel those nodes offer); a WebSocket
subscriber would need an endpoint, and none is served. Django ships no alerting."""

import logging
import time
from datetime import UTC, datetime

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, Finding, claims, package

FAILURES = 10  # the node responds only above a confidence of 0.8: failures / (2 x its threshold of 5)


def run(context) -> list[Finding]:
    return [_kailash(), _django()]


def _kailash() -> Finding:
    from kailash.nodes.security import ThreatDetectionNode

    bound = claims()["realtime_alerts"]["max_latency_s"]
    received = []

    class Subscriber(logging.Handler):
        def emit(self, record):
            if "threat_alert" in record.getMessage() or "Threat detected" in record.getMessage():
                received.append(time.perf_counter())

    root = logging.getLogger()
    subscriber = Subscriber(logging.DEBUG)
    level, root.level = root.level, logging.DEBUG
    root.addHandler(subscriber)
    node = ThreatDetectionNode(detection_rules=["brute_force"], response_actions=["alert"])
    events = [
        {
            "type": "login",
            "user": "alice",
            "ip": "203.0.113.5",
            "failed": True,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        for _ in range(FAILURES)
    ]
    started = time.perf_counter()
    try:
        node.execute(events=events)
    finally:
        root.removeHandler(subscriber)
        root.setLevel(level)
    latency = (received[0] - started) if received else None
    in_process = (
        f"in-process log subscriber got the alert after {latency * 1000:.1f} ms" if received else "no alert received"
    )
    measured = (
        f"{in_process}; no WebSocket (or other out-of-process) channel: monitor_realtime returns an endpoint "
        "path that nothing serves (read from its source: 'In a real implementation, this would set up a WebSocket'; "
        "the call itself needs the stored audit log, which fails: see the audit rows)"
    )
    reason = "no WebSocket alert channel exists to subscribe to; the only delivery is a log record in the same process"
    if latency is not None and latency > bound:
        reason += f", after {latency:.2f} s (bound {bound:g} s)"
    component = f"ThreatDetectionNode alert -> SecurityEventNode; EnterpriseAuditLogNode monitor_realtime ({package('kailash')})"
    tried = f"{FAILURES} failed logins of one user (brute force at full confidence), response 'alert'; a subscriber must have it within {bound:g} s"
    return Finding("realtime_alerts", KAILASH, component, tried, measured, FAILS, reason)


def _django() -> Finding:
    reason = "as claimed: Django has no security alerting (a Django user adds a third-party service)"
    return Finding("realtime_alerts", DJANGO, package("django"), "—", "no alerting in Django", HOLDS, reason)
