"""Django's password hash formats, understood on the DataFlow side: a migrated user logs in with the
password they had, verified against the hash Django stored (the migration copies it byte for byte and
never re-hashes or resets it). Django's own `check_password` is the oracle in tests/test_migration.py.

The hashing itself is hashlib's and bcrypt's; this module only reads Django's `algorithm$...` layout.
"""

import base64
import binascii
import hashlib
import hmac

import bcrypt

UNUSABLE_PREFIX = "!"  # Django's set_unusable_password(): never matches any password


class UnsupportedHash(ValueError):
    """A hash in a format this module cannot verify (so the migration refuses to carry it silently)."""


def algorithm(encoded: str) -> str:
    if encoded.startswith(UNUSABLE_PREFIX):
        return "unusable"
    return encoded.split("$", 1)[0]


def supported(encoded: str) -> bool:
    return algorithm(encoded) in _VERIFIERS


def check_password(password: str, encoded: str) -> bool:
    """True when `password` matches Django's `encoded` hash."""
    try:
        verify = _VERIFIERS[algorithm(encoded)]
    except KeyError:
        raise UnsupportedHash(f"password hash algorithm {algorithm(encoded)!r} is not supported") from None
    return verify(password.encode(), encoded)


def _pbkdf2(digest: str):
    def verify(password: bytes, encoded: str) -> bool:
        _, iterations, salt, expected = encoded.split("$", 3)
        derived = hashlib.pbkdf2_hmac(digest, password, salt.encode(), int(iterations))
        return hmac.compare_digest(base64.b64encode(derived).decode("ascii").strip(), expected)

    return verify


def _bcrypt(prehash: bool):
    def verify(password: bytes, encoded: str) -> bool:
        data = encoded.split("$", 1)[1].encode("ascii")
        if prehash:  # Django's bcrypt_sha256 hashes the password with SHA-256 first (no 72-byte truncation)
            password = binascii.hexlify(hashlib.sha256(password).digest())
        return bcrypt.checkpw(password, data)

    return verify


def _scrypt(password: bytes, encoded: str) -> bool:
    _, n, salt, r, p, expected = encoded.split("$", 5)
    derived = hashlib.scrypt(password, salt=salt.encode(), n=int(n), r=int(r), p=int(p), maxmem=0, dklen=64)
    return hmac.compare_digest(base64.b64encode(derived).decode("ascii").strip(), expected)


def _md5(password: bytes, encoded: str) -> bool:
    _, salt, expected = encoded.split("$", 2)
    return hmac.compare_digest(hashlib.md5(salt.encode() + password).hexdigest(), expected)


_VERIFIERS = {
    "pbkdf2_sha256": _pbkdf2("sha256"),
    "pbkdf2_sha1": _pbkdf2("sha1"),
    "bcrypt_sha256": _bcrypt(prehash=True),
    "bcrypt": _bcrypt(prehash=False),
    "scrypt": _scrypt,
    "md5": _md5,
    "unusable": lambda password, encoded: False,
}
