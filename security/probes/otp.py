"""2FA against RFC 4226 (HOTP) and RFC 6238 (TOTP): the RFCs' published vectors, a code used twice (RFC 6238
section 5.2: the verifier MUST NOT accept the second attempt of the same OTP), and the drift window.

Kailash: `kailash.nodes.auth.mfa` (TOTPGenerator and MultiFactorAuthNode, built in; the node verifies with
pyotp, from the `kailash[auth]` extra). Its generator reads only the wall clock, so the RFC's times are set
with time-machine. Django: django-otp (third party), whose oath functions take the time and counter."""

import base64
import time

import time_machine

from ..findings import DJANGO, FAILS, HOLDS, KAILASH, Finding, package, vectors


def run(context) -> list[Finding]:
    return [_kailash(), _django()]


def _kailash() -> Finding:
    component = f"kailash.nodes.auth.mfa.TOTPGenerator + MultiFactorAuthNode ({package('kailash')}, built in)"
    from kailash.nodes.auth import MultiFactorAuthNode
    from kailash.nodes.auth._actor import MFAActor, StaticActorResolver
    from kailash.nodes.auth.mfa import TOTPGenerator

    v = vectors()
    totp = v["totp"]
    secret = base64.b32encode(totp["sha1"]["secret"].encode()).decode()
    sha1 = []
    for moment, expected in zip(totp["times"], totp["sha1"]["values"], strict=True):
        with time_machine.travel(moment, tick=False):
            sha1.append(TOTPGenerator.generate_totp(secret, time_step=totp["step"], digits=totp["digits"]) == expected)
    hotp = "no HOTP generator or verifier in kailash.nodes.auth (RFC 4226 vectors not run)"
    other = "SHA-256 / SHA-512 vectors: TOTPGenerator takes no algorithm (SHA-1 only)"

    node = MultiFactorAuthNode(methods=["totp"], actor_resolver=StaticActorResolver({"s1": MFAActor(user_id="u1")}))
    setup = node.execute(
        action="setup", user_id="u1", method="totp", user_email="u1@example.com", actor_session_id="s1"
    )
    code = _code(setup["secret"], time.time())
    verify = {"action": "verify", "user_id": "u1", "method": "totp", "actor_session_id": "s1"}
    first = node.execute(**verify, code=code).get("verified")
    second = node.execute(**verify, code=code).get("verified")
    previous = node.execute(**verify, code=_code(setup["secret"], time.time() - 30)).get("verified")
    measured = (
        f"RFC 6238 SHA-1 vectors {sum(sha1)}/{len(sha1)} match; {other}; {hotp}. Node: a fresh code verified "
        f"{first}; the same code again verified {second}; the previous step's code verified {previous}"
    )
    ok = all(sha1) and first and not second
    reason = (
        "the RFC vectors match and a used code is refused"
        if ok
        else "; ".join(
            text
            for failed, text in (
                (not all(sha1), "RFC 6238 vectors do not match"),
                (not first, "a valid code was refused"),
                (second, "a code is accepted twice (RFC 6238 section 5.2: MUST NOT)"),
            )
            if failed
        )
    )
    tried = (
        "RFC 6238 Appendix B vectors at the RFC's times; setup + verify through MultiFactorAuthNode (actor "
        "resolved), codes from django-otp's TOTP as an independent generator"
    )
    return Finding("two_factor", KAILASH, component, tried, measured, HOLDS if ok else FAILS, reason)


def _code(secret_b32: str, moment: float) -> str:
    from django_otp.oath import TOTP

    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    generator = TOTP(key)
    generator.time = moment
    return f"{generator.token():06d}"


def _django() -> Finding:
    component = f"django-otp ({package('django-otp')}, third party: Django has no 2FA)"
    from django.contrib.auth.models import User
    from django_otp.oath import TOTP, hotp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    v = vectors()
    key = v["hotp"]["secret"].encode()
    hotp_ok = [hotp(key, counter, v["hotp"]["digits"]) == value for counter, value in enumerate(v["hotp"]["values"])]
    totp = v["totp"]
    totp_ok = []
    for moment, expected in zip(totp["times"], totp["sha1"]["values"], strict=True):
        generator = TOTP(totp["sha1"]["secret"].encode(), step=totp["step"], digits=totp["digits"])
        generator.time = moment
        totp_ok.append(f"{generator.token():08d}" == expected)

    user = User.objects.create_user("otp-user", "otp@example.com", "x")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)  # tolerance 1 step, its default
    code = _code(base64.b32encode(device.bin_key).decode(), time.time())
    first, second = device.verify_token(code), device.verify_token(code)
    later = TOTPDevice.objects.create(user=user, name="phone 2", confirmed=True)
    previous = later.verify_token(_code(base64.b32encode(later.bin_key).decode(), time.time() - 30))
    measured = (
        f"RFC 4226 HOTP vectors {sum(hotp_ok)}/{len(hotp_ok)} match; RFC 6238 SHA-1 vectors {sum(totp_ok)}/"
        f"{len(totp_ok)} match (SHA-256/512: django-otp is SHA-1 only). TOTPDevice: a fresh code verified {first}; "
        f"the same code again {second}; the previous step's code {previous} (tolerance 1 step)"
    )
    ok = all(hotp_ok) and all(totp_ok) and first and not second
    reason = "not built into Django; django-otp passes the RFC vectors and refuses a used code"
    if not ok:
        reason = "not built into Django, and django-otp fails the oracle (see measured)"
    tried = "RFC 4226 and RFC 6238 vectors through django_otp.oath; TOTPDevice.verify_token twice with one code"
    return Finding("two_factor", DJANGO, component, tried, measured, HOLDS if ok else FAILS, reason)
