"""Anomaly detection: credential-stuffing bursts and impossible travel must be flagged, normal sessions not;
both rates are reported.

Oracle: the scenarios' ground truth is fixed by construction. A credential-stuffing burst is 30 failed logins
for 30 different accounts from one IP within a minute. Impossible travel is two logins of one user from two
cities whose great-circle distance needs more than 1,000 km/h (faster than an airliner) in the time between
them; a normal session is logins from one city, or a journey slower than that. Kailash (built in, "ML-based"):
`kailash.nodes.security.ThreatDetectionNode` and `BehaviorAnalysisNode`. Django ships no anomaly detection."""

import logging
import math
from datetime import UTC, datetime, timedelta
from itertools import permutations

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, Finding, claims, package

CITIES = {  # latitude, longitude (degrees)
    "London": (51.507, -0.128),
    "Paris": (48.857, 2.352),
    "New York": (40.713, -74.006),
    "Los Angeles": (34.052, -118.244),
    "Tokyo": (35.690, 139.692),
    "Sydney": (-33.869, 151.209),
    "Singapore": (1.352, 103.820),
    "Moscow": (55.756, 37.617),
    "Sao Paulo": (-23.551, -46.633),
    "Johannesburg": (-26.204, 28.047),
}
AIRLINER_KMH = 1000
BURSTS = 20


def run(context) -> list[Finding]:
    return [_kailash(), _django()]


def distance_km(a: str, b: str) -> float:
    (lat1, lon1), (lat2, lon2) = (map(math.radians, CITIES[c]) for c in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def travel_scenarios(start: datetime):
    """(logins, impossible?) for every ordered pair of cities: 30 minutes apart, and 20 hours apart."""
    for a, b in permutations(CITIES, 2):
        for hours in (0.5, 20):
            logins = [(start, a), (start + timedelta(hours=hours), b)]
            yield logins, distance_km(a, b) / hours > AIRLINER_KMH


def _kailash() -> Finding:
    from kailash.nodes.security import BehaviorAnalysisNode, ThreatDetectionNode

    logging.disable(logging.CRITICAL)  # the nodes log every anomaly at CRITICAL
    try:
        start = datetime.now(UTC) - timedelta(minutes=5)
        stuffing = 0
        for burst in range(BURSTS):
            ip = f"203.0.113.{burst + 1}"
            events = [
                {"type": "login", "user": f"victim-{n}", "ip": ip, "failed": True, "timestamp": _at(start, n)}
                for n in range(30)
            ]
            stuffing += bool(ThreatDetectionNode().execute(events=events)["threats"])
        normal_failures = 0
        for n in range(BURSTS):  # a normal session: one typo, then the right password
            events = [
                {
                    "type": "login",
                    "user": f"user-{n}",
                    "ip": f"198.51.100.{n + 1}",
                    "failed": True,
                    "timestamp": _at(start, 0),
                },
                {
                    "type": "login",
                    "user": f"user-{n}",
                    "ip": f"198.51.100.{n + 1}",
                    "failed": False,
                    "timestamp": _at(start, 5),
                },
            ]
            normal_failures += bool(ThreatDetectionNode().execute(events=events)["threats"])
        travel = {True: [0, 0], False: [0, 0]}  # impossible? -> [flagged, total]
        for logins, impossible in travel_scenarios(start - timedelta(days=1)):
            activity = [
                {"user_id": "traveller", "timestamp": t.isoformat(), "location": city, "action": "login"}
                for t, city in logins
            ]
            result = BehaviorAnalysisNode().execute(action="analyze", user_id="traveller", recent_activity=activity)
            flagged = any(a.get("anomaly_type") == "impossible_travel" for a in result["anomalies"])
            travel[impossible][0] += flagged
            travel[impossible][1] += 1
    finally:
        logging.disable(logging.NOTSET)
    bounds = claims()["anomaly_detection"]
    detection = {"credential stuffing": stuffing / BURSTS, "impossible travel": travel[True][0] / travel[True][1]}
    false_positive = (normal_failures + travel[False][0]) / (BURSTS + travel[False][1])
    measured = (
        f"credential stuffing flagged {stuffing}/{BURSTS} ({detection['credential stuffing']:.0%}); impossible "
        f"travel flagged {travel[True][0]}/{travel[True][1]} ({detection['impossible travel']:.0%}); normal "
        f"sessions flagged {normal_failures + travel[False][0]}/{BURSTS + travel[False][1]} ({false_positive:.0%})"
    )
    problems = [
        f"{name} detected in {rate:.0%}" for name, rate in detection.items() if rate < bounds["min_detection_rate"]
    ]
    if false_positive > bounds["max_false_positive_rate"]:
        problems.append(f"{false_positive:.0%} of normal sessions flagged")
    reason = "; ".join(problems) or "both attacks flagged, normal sessions left alone"
    if detection["impossible travel"] < 1:
        reason += " (impossible travel is a fixed list of six city pairs in BehaviorAnalysisNode, not a model)"
    if not stuffing:
        reason += " (the brute-force rule counts failures per user and IP, so one IP trying many users is never seen)"
    bound_text = f"claim holds at >= {bounds['min_detection_rate']:.0%} detection, <= {bounds['max_false_positive_rate']:.0%} false positives"
    component = f"kailash.nodes.security ThreatDetectionNode + BehaviorAnalysisNode ({package('kailash')}, built in)"
    tried = f"{BURSTS} stuffing bursts and {BURSTS} normal login sessions (ThreatDetectionNode); every ordered pair of {len(CITIES)} cities at 30 min and 20 h (BehaviorAnalysisNode action=analyze); {bound_text}"
    return Finding("anomaly_detection", KAILASH, component, tried, measured, FAILS if problems else HOLDS, reason)


def _at(start: datetime, seconds: int) -> str:
    return (start + timedelta(seconds=seconds)).isoformat()


def _django() -> Finding:
    import pkgutil

    import django.contrib

    modules = sorted(m.name for m in pkgutil.iter_modules(django.contrib.__path__))
    measured = f"django.contrib has {', '.join(modules)}: none detects anomalies"
    reason = "as claimed: Django has none (a Django user adds a third-party service; none measured here)"
    return Finding("anomaly_detection", DJANGO, package("django"), "list django.contrib", measured, HOLDS, reason)
