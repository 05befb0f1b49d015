"""Keyhouse tokens for other services (DESIGN §12): forward auth for reverse proxies
(``/api/auth/verify``) and RFC 7662 token introspection (``/api/auth/introspect``).

Both find the credential the way every API call does, through
``settings.KEYHOUSE_CREDENTIAL_BACKENDS`` (so this module imports no credential app): one
indexed lookup, then at most one query for the permissions, and only when they are asked for
or reported. Decisions about roles and permissions are ``accounts.access``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import HttpRequest, JsonResponse, QueryDict

from accounts.access import AppRequest, Identity, check_requirements, effective_permissions
from accounts.api_auth import (
    AuthenticationFailed,
    Credentials,
    authenticate_credentials,
    parse_authorization,
    parse_org_id,
)
from accounts.api_base import (
    ANY_METHOD,
    ApiError,
    api_view,
    error_response,
    parse_json_object,
)
from accounts.roles import Role
from accounts.teams.catalogue import NAME_MAX_LENGTH, NAME_RE, TOKENS_INTROSPECT

logger = logging.getLogger("keyhouse.auth")

UNAUTHORIZED = "Unauthorized"  # the one body of every refused credential
WWW_AUTHENTICATE = 'Bearer realm="keyhouse"'
REQUIRABLE_ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN)
# The nginx configuration the README shows and the tests run; pages hand it out too.
NGINX_SNIPPET = Path(settings.BASE_DIR) / "config" / "nginx" / "keyhouse-auth.conf"
SNIPPET_QUERY = "permission=metrics:ingest"  # what the snippet asks for, as an example


def verify_requirements(query: QueryDict) -> tuple[list[str], Role | None, int | None]:
    """The permissions, minimum role and org a verify URL asks for, or ApiError 400."""
    permissions = query.getlist("permission")
    for name in permissions:
        if len(name) > NAME_MAX_LENGTH or not NAME_RE.fullmatch(name):
            raise ApiError(400, f"Malformed permission name {name[:NAME_MAX_LENGTH]!r}")
    roles = query.getlist("role")
    if len(roles) > 1:
        raise ApiError(400, "role may be given once")
    role = None
    if roles:
        role = next((known for known in REQUIRABLE_ROLES if known.value == roles[0]), None)
        if role is None:
            choices = ", ".join(known.value for known in REQUIRABLE_ROLES)
            raise ApiError(400, f"Unknown role {roles[0][:20]!r}: must be one of {choices}")
    orgs = query.getlist("org")
    if len(orgs) > 1:
        raise ApiError(400, "org may be given once")
    org_id = parse_org_id(orgs[0], "org") if orgs else None
    return permissions, role, org_id


def token_identity(request: HttpRequest, org_id: int | None) -> Identity:
    """The identity of the token or legacy key in the Authorization header, or
    AuthenticationFailed: user passwords are refused, so they never travel with every call."""
    credentials = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
    if credentials is None:
        raise AuthenticationFailed("no credentials")
    if not credentials.is_token:
        raise AuthenticationFailed("a user's password sent to forward auth")
    return authenticate_credentials(request, credentials, org_id)


def reported_permissions(identity: Identity) -> list[str]:
    """Sorted effective permissions; an unmigrated legacy key reports none (it has no
    account to hold them)."""
    if identity.kind == "api-key":
        return []
    return sorted(effective_permissions(identity))


@api_view(ANY_METHOD, authenticated=False)
def verify(request: AppRequest) -> JsonResponse:
    """200 with the caller's identity in ``X-Keyhouse-*`` headers (and the body), 401 for any
    bad credential, 403 for a good one that falls short of the query's requirements."""
    permissions, role, org_id = verify_requirements(request.GET)
    try:
        identity = token_identity(request, org_id)
    except AuthenticationFailed as exc:
        logger.warning("forward auth refused: %s", exc.reason)
        response = error_response(401, UNAUTHORIZED)
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
        return response
    check_requirements(identity, permissions=permissions, role=role)
    credential = identity.credential
    assert credential is not None, "token backends describe the credential"
    account_id = identity.credential_id if identity.kind == "service-account" else None
    held = reported_permissions(identity)
    response = JsonResponse(
        {
            "orgId": identity.org.pk,
            "serviceAccountId": account_id,
            "login": credential.login or None,
            "role": identity.role.value,
            "permissions": held,
            "tokenId": credential.id,
            "credential": credential.kind,
        }
    )
    headers = {
        "Org-Id": str(identity.org.pk),
        "Service-Account-Id": str(account_id or ""),
        # Percent-encoded UTF-8: a login keeps any letter of its account's name.
        "Login": quote(credential.login, safe=""),
        "Role": identity.role.value,
        "Permissions": " ".join(held),
        "Token-Id": str(credential.id),
        "Credential": credential.kind,
    }
    for name, value in headers.items():
        if value:
            response[f"X-Keyhouse-{name}"] = value
    if settings.KEYHOUSE_VERIFY_CACHE_SECONDS:
        response["Cache-Control"] = f"private, max-age={settings.KEYHOUSE_VERIFY_CACHE_SECONDS}"
        response["Vary"] = "Authorization"
    return response


def submitted_token(request: HttpRequest) -> str:
    """The ``token`` of an introspection request: a form field (RFC 7662) or a JSON one.
    Whatever string it is, it is only ever looked up: an odd one is simply inactive."""
    if request.content_type == "application/json":
        token = parse_json_object(request).get("token")
    else:
        token = request.POST.get("token")
    if not isinstance(token, str) or not token:
        raise ApiError(400, "Bad request data: token is required and must be a string")
    return token


@api_view({"POST": TOKENS_INTROSPECT})
def introspect(request: AppRequest) -> JsonResponse:
    """RFC 7662: whether a token is active in the caller's org, and what it may do. Anything
    that is not an active token of that org, another org's included, is just inactive."""
    secret = submitted_token(request)
    try:
        subject = authenticate_credentials(
            request, Credentials("bearer", secret), request.identity.org.pk
        )
    except AuthenticationFailed as exc:
        logger.info("introspection: inactive (%s)", exc.reason)
        return JsonResponse({"active": False})
    credential = subject.credential
    if credential is None:  # a backend that knows bearer secrets but not as tokens
        return JsonResponse({"active": False})
    answer: dict[str, Any] = {
        "active": True,
        "scope": " ".join(reported_permissions(subject)),
        "username": credential.name,
        "token_type": "Bearer",
        "iat": int(credential.created_at.timestamp()),
        "org_id": subject.org.pk,
        "role": subject.role.value,
    }
    if credential.login:
        answer |= {"client_id": credential.login, "sub": credential.login}
    if credential.expires_at is not None:
        answer["exp"] = int(credential.expires_at.timestamp())
    return JsonResponse(answer)


def verify_query(org_id: int, permissions: Iterable[str]) -> str:
    """The query of a verify URL that asks for a token of ``org_id`` holding ``permissions``."""
    pairs = [("org", str(org_id)), *(("permission", name) for name in sorted(permissions))]
    return urlencode(pairs, safe=":*")


@cache
def _snippet() -> str:
    return NGINX_SNIPPET.read_text()


def nginx_snippet(query: str) -> str:
    """The README's tested nginx snippet, asking Keyhouse for ``query`` instead of its example."""
    example = f"/api/auth/verify?{SNIPPET_QUERY};"
    assert example in _snippet(), "config/nginx/keyhouse-auth.conf changed its example"
    return _snippet().replace(example, f"/api/auth/verify?{query};")
