"""Claim by claim: the measured values of both sides, the measured ratio, and the verdict.

Every measured value is an interval [low, high]. Latencies and memory are points (low == high).
A step-load result is a range: an app that sustained 50 users and failed at 100 can hold somewhere
in [50, 100); an app that sustained every step only has a lower bound. A verdict is certain only
when the whole interval is on one side of the claim; otherwise the claim is not measurable here.
"""

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.report import FAILS, HOLDS, UNKNOWN

from .results import sustained_users

CLAIMS_FILE = Path(__file__).parent / "claims.toml"
MB = 2**20
UNIT_SCALE = {"ms": 1.0, "s": 1000.0}  # latencies are measured in ms


@dataclass
class Measure:
    low: float | None = None
    high: float | None = None
    percentiles: dict = field(default_factory=dict)  # p50_ms / p95_ms / p99_ms (ms) of the measured requests
    requests: int = 0
    problem: str | None = None  # why there is no usable value
    detail: str = ""  # how a value that is not a latency was obtained (memory: growth, requests in flight)

    @property
    def usable(self) -> bool:
        return self.problem is None and self.low is not None


@dataclass
class Verdict:
    claim: dict
    comparison: str
    dataflow_name: str
    django_name: str
    dataflow: Measure
    django: Measure
    ratio: tuple[float, float] | None
    verdict: str
    reason: str

    @property
    def claimed_ratio(self) -> float:
        return advantage(self.claim, self.claim["dataflow"], self.claim["django"])


def load_claims(path: Path = CLAIMS_FILE) -> dict:
    return tomllib.loads(path.read_text())


def advantage(claim: dict, dataflow: float, django: float) -> float:
    """How many times better DataFlow is than Django (the claimed ratio for the claimed values)."""
    top, bottom = (django, dataflow) if claim["better"] == "lower" else (dataflow, django)
    if bottom == 0:
        return math.inf if top > 0 else math.nan
    return top / bottom


def verdicts(record: dict, claims: dict) -> list[Verdict]:
    rows = []
    for claim in claims["claims"]:
        for comparison, dataflow_name, django_name in _comparisons(claim, record):
            dataflow = _measure(claim, record, dataflow_name)
            django = _measure(claim, record, django_name)
            rows.append(_judge(claim, claims["tolerance"], comparison, dataflow_name, django_name, dataflow, django))
    return rows


def _comparisons(claim: dict, record: dict):
    if claim["measured_by"] != "inprocess":
        yield "HTTP, reference app vs Django app", "dataflow_reference", "django"
        return
    implementations = ["dataflow_reference"] + (["dataflow"] if "dataflow" in record["variants"] else [])
    for name in implementations:
        if claim["operation"] == "create_user":
            yield "each framework's default hasher", name, "django"
            yield "same hasher on both sides (bcrypt, cost 12)", name, "django_bcrypt"
        else:
            yield "", name, "django"


def _measure(claim: dict, record: dict, name: str) -> Measure:
    if claim["measured_by"] == "inprocess":
        return _latency(claim, record["variants"].get(name), name, record.get("min_samples", 1))
    app = record["apps"].get(name)
    if app is None:
        return Measure(problem=f"{name} did not run")
    if claim["measured_by"] == "step_load":
        return _capacity(app)
    return _memory(app)


def _latency(claim: dict, variant: dict | None, name: str, min_samples: int) -> Measure:
    if variant is None:
        return Measure(problem=f"{name} did not run")
    stats = variant["operations"].get(claim["operation"])
    if not stats or stats["requests"] == 0:
        return Measure(problem=f"{name} finished no {claim['operation']} within its phase of the profile")
    percentiles = {key: stats[key] for key in ("p50_ms", "p95_ms", "p99_ms")}
    measure = Measure(percentiles=percentiles, requests=stats["requests"])
    if stats["failures"]:
        errors = [f["error"] for f in variant["failures"] if f["name"] == claim["operation"]]
        measure.problem = f"{name}: {stats['failures']} of {stats['requests']} failed ({errors[0] if errors else '?'})"
        return measure
    if stats["requests"] < min_samples:
        measure.problem = (
            f"{name}: {stats['requests']} {claim['operation']} requests within the profile's longest phase, "
            f"fewer than the {min_samples} a verdict needs"
        )
        return measure
    value = stats[claim["statistic"]] / UNIT_SCALE[claim["unit"]]
    measure.low = measure.high = value
    return measure


def _capacity(app: dict) -> Measure:
    steps = app.get("steps") or []
    if not steps:
        return Measure(problem="the step load recorded no step")
    best = sustained_users(steps)
    reached = [s for s in steps if s["sustained"]]
    shown = reached[-1] if reached else steps[0]
    percentiles = {key: shown[key] for key in ("p50_ms", "p95_ms", "p99_ms")}
    measure = Measure(percentiles=percentiles, requests=shown["requests"])
    failed = next((s for s in steps if not s["sustained"]), None)
    measure.low = best
    # It held below the failed step, unless Locust itself was at its limit there (no upper bound then).
    measure.high = math.inf if failed is None or failed.get("generator_limited") else failed["users"]
    return measure


def _memory(app: dict) -> Measure:
    memory = app.get("memory")
    if not memory or memory.get("per_request_bytes") is None:
        return Measure(problem="no memory reading under load")
    value = max(memory["per_request_bytes"], 0) / MB  # RSS can also shrink under load (freed pages)
    step = next(s for s in app["steps"] if s["users"] == memory["step_users"])
    detail = (
        f"RSS growth {memory['growth_bytes'] / MB:.3g} MB over {memory['in_flight']:.2f} requests in flight "
        f"at {memory['step_users']:,} users"
    )
    return Measure(low=value, high=value, requests=step["requests"], detail=detail)


def _judge(claim, tolerance, comparison, dataflow_name, django_name, dataflow, django) -> Verdict:
    def verdict(result, reason, ratio=None):
        return Verdict(claim, comparison, dataflow_name, django_name, dataflow, django, ratio, result, reason)

    if not dataflow.usable or not django.usable:
        return verdict(UNKNOWN, "; ".join(m.problem for m in (dataflow, django) if m.problem) or "no value")
    claimed_ratio = advantage(claim, claim["dataflow"], claim["django"])
    if claim["better"] == "lower":
        ratio = (_divide(django.low, dataflow.high), _divide(django.high, dataflow.low))
        value_fails = dataflow.low > claim["dataflow"] * (1 + tolerance)
        value_meets = dataflow.high <= claim["dataflow"] * (1 + tolerance)
    else:
        ratio = (_divide(dataflow.low, django.high), _divide(dataflow.high, django.low))
        value_fails = dataflow.high < claim["dataflow"] * (1 - tolerance)
        value_meets = dataflow.low >= claim["dataflow"] * (1 - tolerance)
    ratio_fails = ratio[1] < claimed_ratio * (1 - tolerance)
    ratio_meets = ratio[0] >= claimed_ratio * (1 - tolerance)
    unit = claim["unit"]
    value_text = f"DataFlow {_interval(dataflow, unit)} vs {_number(claim['dataflow'])} {unit} claimed"
    measured = f"advantage {ratio_text(ratio)} vs {_number(claimed_ratio)}x claimed"
    if value_fails or ratio_fails:
        reasons = [text for failed, text in ((value_fails, value_text), (ratio_fails, measured)) if failed]
        return verdict(FAILS, "; ".join(reasons), ratio)
    if value_meets and ratio_meets:
        return verdict(HOLDS, f"{value_text}; {measured}", ratio)
    return verdict(UNKNOWN, _open_bound(claim, dataflow, django) + f" ({value_text}; {measured})", ratio)


def _open_bound(claim, dataflow: Measure, django: Measure) -> str:
    if claim["measured_by"] == "step_load":
        capped = [name for name, m in (("DataFlow", dataflow), ("Django", django)) if m.high == math.inf]
        if capped:
            return (
                f"{' and '.join(capped)} sustained every step of this profile (or failed only where Locust was at "
                "its own limit), so only a lower bound is known"
            )
        return "the step sizes leave the ratio undecided"
    if claim["measured_by"] == "memory" and (dataflow.low == 0 or django.low == 0):
        return "RSS did not grow under load on one side, so the ratio is undefined"
    return "the measured range straddles the claim"


def _divide(top: float, bottom: float) -> float:
    if bottom == 0:
        return math.inf if top > 0 else 0.0
    return top / bottom


def _interval(measure: Measure, unit: str) -> str:
    if measure.low == measure.high:
        return f"{_number(measure.low)} {unit}"
    if measure.high == math.inf:
        return f">= {_number(measure.low)} {unit}"
    return f"{_number(measure.low)} {unit} (fails at {_number(measure.high)})"


def ratio_text(ratio: tuple[float, float]) -> str:
    """A measured advantage: one value, or the range the step sizes leave open."""
    low, high = ratio
    if low == 0 and high == math.inf:
        return "undetermined"
    if low == high:
        return f"{_number(low)}x"
    if high == math.inf:
        return f">= {_number(low)}x"
    if low == 0:  # the other side sustained every step: only an upper bound is known
        return f"< {_number(high)}x"
    return f"{_number(low)}x to {_number(high)}x"


def _number(value: float) -> str:
    if value == math.inf:
        return "inf"
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
