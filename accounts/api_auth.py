"""Credentials on the HTTP API: parse the Authorization header, ask each backend in
``settings.KEYHOUSE_CREDENTIAL_BACKENDS`` in turn, and produce an ``Identity``.

A backend is a class with ``authenticate(request, credentials, org_id) -> Identity | None``:
it returns None for credentials that are not its kind and raises ``AuthenticationFailed`` for
ones that are its kind but must be refused. The API never looks at the session cookie.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal, Protocol

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.module_loading import import_string

from accounts.access import MAX_DB_ID, Identity, current_identity, identity_for_user
from accounts.audit.services import record_api_sign_in, record_sign_in
from accounts.errors import Refusal
from accounts.models import Organization, User
from accounts.network import client_address

logger = logging.getLogger("keyhouse.auth")

API_KEY_USERNAME = "api_key"
USERNAME_MAX_LENGTH = 254
INVALID_API_KEY = "Invalid API key"


class AuthenticationFailed(Refusal):
    """Refuse the request. ``reason`` goes to the server log only; ``message`` to the client."""

    def __init__(self, reason: str, *, message: str = INVALID_API_KEY, status: int = 401):
        super().__init__(message)
        self.reason = reason
        self.status = status


class BadOrgHeader(Refusal):
    """``X-Grafana-Org-Id`` (or verify's ``org=``) is not an org id (a 400, not an
    authentication failure)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    scheme: Literal["bearer", "basic"]
    secret: str
    username: str = ""

    @property
    def is_token(self) -> bool:
        """A bearer token, or Grafana's Basic ``api_key:<token>`` form of one."""
        return self.scheme == "bearer" or self.username == API_KEY_USERNAME


class CredentialBackend(Protocol):
    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None: ...


def parse_authorization(header: str) -> Credentials | None:
    """None when there is no header; AuthenticationFailed when it cannot be read."""
    if not header:
        return None
    if "\x00" in header:
        raise AuthenticationFailed("authorization header with a NUL character")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if not value:
        raise AuthenticationFailed("authorization header without a value")
    if scheme.lower() == "bearer":
        return Credentials("bearer", value)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("basic credentials are not base64 of UTF-8") from None
        username, colon, password = decoded.partition(":")
        if "\x00" in decoded or len(username) > USERNAME_MAX_LENGTH:
            raise AuthenticationFailed("basic credentials with an impossible username")
        if not colon:
            raise AuthenticationFailed("basic credentials without a colon")
        return Credentials("basic", password, username)
    raise AuthenticationFailed(f"unsupported authorization scheme {scheme[:20]!r}")


def requested_org_id(request: HttpRequest) -> int | None:
    return parse_org_id(request.META.get("HTTP_X_GRAFANA_ORG_ID", ""), "X-Grafana-Org-Id")


def parse_org_id(raw: str, source: str) -> int | None:
    """An org id as a client wrote it in ``source`` (None when blank), or BadOrgHeader."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        org_id = int(raw)
    except ValueError:
        raise BadOrgHeader(f"{source} must be a numeric organization id") from None
    if not 0 < org_id <= MAX_DB_ID:
        raise BadOrgHeader(f"{source} must be a numeric organization id")
    return org_id


@cache
def credential_backends() -> tuple[CredentialBackend, ...]:
    return tuple(import_string(path)() for path in settings.KEYHOUSE_CREDENTIAL_BACKENDS)


def authenticate_request(request: HttpRequest) -> Identity:
    """The caller's identity, or AuthenticationFailed (or BadOrgHeader)."""
    # META directly: request.headers would build a dict of every header on each API call.
    credentials = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
    if credentials is None:
        raise AuthenticationFailed("no credentials", message="Unauthorized")
    return authenticate_credentials(request, credentials, requested_org_id(request))


def authenticate_credentials(
    request: HttpRequest, credentials: Credentials, org_id: int | None
) -> Identity:
    """Ask each backend in turn: the identity of the first that knows the credentials, or
    AuthenticationFailed. ``org_id``, when given, is the org they must belong to."""
    for backend in credential_backends():
        identity = backend.authenticate(request, credentials, org_id)
        if identity is not None:
            return replace(identity, address=client_address(request))
    raise AuthenticationFailed("no credential backend accepted the credentials")


class UserPasswordBackend:
    """HTTP Basic ``<login>:<password>`` for users, throttled like the sign-in page."""

    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None:
        if credentials.scheme != "basic" or credentials.is_token:
            return None
        login = credentials.username
        user = authenticate(request, username=login, password=credentials.secret)
        if getattr(request, "axes_locked_out", False):
            record_sign_in(request, login=login, outcome="lockout", via="API")
            raise AuthenticationFailed(
                "user locked out after repeated failures",
                message="Too many consecutive incorrect login attempts; try again later.",
                status=429,
            )
        if not isinstance(user, User):
            record_sign_in(request, login=login, outcome="failure", via="API")
            raise AuthenticationFailed(
                "wrong username or password", message="Invalid username or password"
            )
        if org_id is None:
            identity = current_identity(user)
        else:
            org = Organization.objects.filter(pk=org_id).first()
            identity = identity_for_user(user, org) if org is not None else None
        if identity is None:
            raise AuthenticationFailed(
                f"user {user.pk} is not a member of org {org_id}",
                message="You are not a member of the requested organization",
            )
        record_api_sign_in(request, login=login, user=user)
        return identity
