"""Legacy API key strings in Grafana's classic format. Pure functions.

A key is standard base64 of the JSON ``{"k": <32 random chars>, "n": <key name>, "id": <org id>}``.
It has no checksum, so the shape is all we can check before looking its digest up.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass

from tokens.format import ALPHABET, SECRET_LENGTH, digest

MAX_KEY_LENGTH = 2048
__all__ = ["ParsedKey", "digest", "generate", "parse"]


@dataclass(frozen=True, slots=True)
class ParsedKey:
    secret: str
    name: str
    org_id: int


def generate(name: str, org_id: int) -> str:
    """A new key. The name is written as UTF-8, like Grafana's JSON, not as ``\\u`` escapes:
    at most 4 bytes a character instead of 12, so a key for the longest name (190 characters)
    stays well within ``MAX_KEY_LENGTH`` whatever they are."""
    secret = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    data = {"k": secret, "n": name, "id": org_id}
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(payload.encode()).decode()


def parse(key: str) -> ParsedKey | None:
    """The key's parts, or None if it is not a well-formed legacy key."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    try:
        data = json.loads(base64.b64decode(key, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    secret, name, org_id = data.get("k"), data.get("n"), data.get("id")
    if not (isinstance(secret, str) and secret and isinstance(name, str)):
        return None
    if isinstance(org_id, bool) or not isinstance(org_id, int) or org_id < 1:
        return None
    return ParsedKey(secret, name, org_id)
