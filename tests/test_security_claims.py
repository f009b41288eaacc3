"""Self-tests of the security claims job (security/): the RFC vectors it checks against are the RFCs' (an
independent OTP library reproduces them), its judgements can fail, a component that cannot be imported is
reported as not measurable, and a run writes the claims table in the load tests' form. The job itself runs
with `nox -s security`."""

import hashlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("django_otp", reason="needs the security extra: pip install -e '.[loadtests,security]'")
pyotp = pytest.importorskip("pyotp", reason="needs the security extra (kailash[auth] brings pyotp)")

from harness.report import FAILS, HOLDS, UNKNOWN  # noqa: E402
from security.__main__ import run_probe  # noqa: E402
from security.findings import DJANGO, KAILASH, Finding, claims, vectors  # noqa: E402
from security.probes import rate_limit  # noqa: E402
from security.report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_the_vectors_are_the_rfcs():
    """pyotp (used by no probe as an oracle) reproduces every vector copied into security/vectors.toml."""
    v = vectors()
    hotp = pyotp.HOTP(_b32(v["hotp"]["secret"]), digits=v["hotp"]["digits"])
    assert [int(hotp.at(counter)) for counter in range(10)] == v["hotp"]["values"]
    totp = v["totp"]
    for digest in ("sha1", "sha256", "sha512"):
        generator = pyotp.TOTP(
            _b32(totp[digest]["secret"]), digits=totp["digits"], interval=totp["step"], digest=getattr(hashlib, digest)
        )
        assert [generator.at(moment) for moment in totp["times"]] == totp[digest]["values"], digest


def _b32(secret: str) -> str:
    import base64

    return base64.b32encode(secret.encode()).decode()


@pytest.mark.parametrize(
    ("burst", "after", "concurrent", "verdict"),
    [
        ([True] * rate_limit.LIMIT + [False], True, rate_limit.LIMIT, HOLDS),
        ([True] * (rate_limit.LIMIT + 1), True, rate_limit.LIMIT, FAILS),  # one too many in the window
        ([True] * rate_limit.LIMIT + [False], False, rate_limit.LIMIT, FAILS),  # never admits again
        ([True] * rate_limit.LIMIT + [False], True, rate_limit.LIMIT + 3, FAILS),  # over-admits under concurrency
    ],
)
def test_the_rate_limit_judgement_can_fail(burst, after, concurrent, verdict):
    assert rate_limit._judge(KAILASH, "limiter", "tried", burst, after, concurrent).verdict == verdict


def test_a_component_that_cannot_be_imported_is_not_measurable_and_named():
    def run(context):
        import kailash.nodes.does_not_exist  # noqa: F401

    [finding] = run_probe("two_factor", types.SimpleNamespace(run=run), None)
    assert finding.verdict == UNKNOWN
    assert "kailash.nodes.does_not_exist" in finding.reason


def test_the_report_has_a_row_per_claim_and_side_in_the_load_tests_form(tmp_path):
    findings = [
        Finding(claim_id, side, f"component {n}", "tried", "measured", verdict, f"reason {n}")
        for n, (claim_id, side, verdict) in enumerate(
            (c, s, v) for c in claims() for s, v in ((KAILASH, FAILS), (DJANGO, HOLDS))
        )
    ]
    markdown, html = write_report(findings, tmp_path, 0.0, ((0.1, 0.2, 0.3), (0.4, 0.5, 0.6)), None)

    text = markdown.read_text()
    table = text.split("## Claims")[1].split("## Versions")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(findings)
    for claim in claims().values():
        assert f"| {claim['title']} | {KAILASH}: {claim['kailash']} |" in text
        assert f"| {claim['title']} | {DJANGO}: {claim['django']} |" in text
    assert all(row.rstrip(" |").split("| ")[-1].split(":")[0] in ("DOES NOT HOLD", "HOLDS") for row in rows)
    assert "<table>" in html.read_text()


def test_a_run_writes_the_claims_table(tmp_path):
    """The 2FA probe end to end: django-otp, a correct implementation, must come out as holding (the control
    that shows the oracle lets a correct component pass); the Kailash row is there with a verdict."""
    done = subprocess.run(
        [sys.executable, "-m", "security", "run", "--probe", "otp", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [report] = tmp_path.glob("*-security.md")
    rows = {line.split(" | ")[1]: line for line in report.read_text().splitlines() if line.startswith("| 2FA")}
    assert "HOLDS: not built into Django; django-otp passes the RFC vectors" in rows[f"{DJANGO}: ✗ third party"]
    assert any(word in rows[f"{KAILASH}: ✓ built in"] for word in ("| HOLDS:", "| DOES NOT HOLD:"))


def test_rate_limiting_shared_across_processes_on_redis():
    """Both sides' cross-process limiters on the machine's Redis (.ci/run starts it): two processes, one limit,
    and each side's behaviour with Redis unavailable stated."""
    from security.probes import shared_rate_limit

    if shared_rate_limit._server(shared_rate_limit.redis_url()) is None:
        pytest.skip(f"no Redis at {shared_rate_limit.redis_url()} (.ci/run starts redis-server)")
    pytest.importorskip("redis", reason="needs the security extra (redis)")
    findings = shared_rate_limit.run(None)
    assert [(f.side, f.verdict) for f in findings] == [
        (KAILASH, HOLDS),
        (KAILASH, HOLDS),
        (DJANGO, HOLDS),
        (DJANGO, HOLDS),
    ]
    assert "FAILS OPEN" in findings[1].reason and "FAILS CLOSED" in findings[3].reason
    assert all("NOT MEASURABLE" not in f.reason.upper() for f in findings)
