"""Service-account token strings (Grafana's format) and their digests. Pure functions.

A token is ``<prefix>_<32 chars [0-9A-Za-z]>_<checksum>`` where the checksum is the CRC-32
(IEEE) of everything before the last underscore, its four bytes written little-endian as eight
lower-case hex characters. Secret scanners (gitleaks, trufflehog, GitHub) know this shape, and
the checksum lets us drop typos and garbage before touching the database.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib
from dataclasses import dataclass

SECRET_LENGTH = 32
ALPHABET = string.ascii_letters + string.digits
_TOKEN_RE = re.compile(r"([a-z][a-z0-9]{0,15})_([0-9A-Za-z]{32})_([0-9a-f]{8})")
# No boundaries around it: text glued to a token must not hide it (redacting too much is harmless).
_TOKEN_ANYWHERE = re.compile(_TOKEN_RE.pattern)


@dataclass(frozen=True, slots=True)
class ParsedToken:
    prefix: str
    secret: str
    checksum: str


def checksum(payload: str) -> str:
    """CRC-32 of ``payload``, as 8 hex chars of its little-endian bytes."""
    return zlib.crc32(payload.encode()).to_bytes(4, "little").hex()


def generate(prefix: str) -> str:
    """A new token with 32 random characters (about 190 bits) from ``secrets``."""
    secret = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    payload = f"{prefix}_{secret}"
    return f"{payload}_{checksum(payload)}"


def parse(token: str) -> ParsedToken | None:
    """The token's parts, or None if its shape or checksum is wrong."""
    match = _TOKEN_RE.fullmatch(token)
    if match is None:
        return None
    prefix, secret, crc = match.groups()
    if not secrets.compare_digest(checksum(f"{prefix}_{secret}"), crc):
        return None
    return ParsedToken(prefix, secret, crc)


def redact(text: str, replacement: str) -> str:
    """``text`` with everything shaped like a token replaced (checksum or not)."""
    return _TOKEN_ANYWHERE.sub(replacement, text)


def digest(secret: str) -> str:
    """What we store and look up instead of a credential: SHA-256 hex of the whole string.

    A fast hash is right here: the credential carries ~190 random bits, so there is nothing to
    brute-force, and a slow hash would be paid on every API request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
