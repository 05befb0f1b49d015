"""Bearer authentication with service-account tokens (a ``KEYHOUSE_CREDENTIAL_BACKENDS`` entry)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import DatabaseError, models
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts import rows
from accounts.access import Identity
from accounts.api_auth import AuthenticationFailed, Credentials
from accounts.models import Organization, ServiceAccount
from accounts.roles import Role
from tokens import format as token_format
from tokens.models import ServiceAccountToken

logger = logging.getLogger("keyhouse.auth")


TOKEN_FIELDS = ("id", "service_account_id", "expires_at", "last_used_at", "is_revoked")
ACCOUNT_FIELDS = ("id", "org_id", "role", "is_disabled")
ORG_FIELDS = ("id", "name", "api_keys_migrated_at", "api_keys_hidden")


@cache
def _token_sql() -> str:
    token, account, org = ServiceAccountToken, ServiceAccount, Organization
    # Only model metadata is pasted in; the digest is a parameter.
    return (
        f"SELECT {rows.columns('t', token, TOKEN_FIELDS)}, "  # noqa: S608
        f"{rows.columns('a', account, ACCOUNT_FIELDS)}, {rows.columns('o', org, ORG_FIELDS)} "
        f"FROM {token._meta.db_table} t "
        f"JOIN {account._meta.db_table} a ON a.id = t.service_account_id "
        f"JOIN {org._meta.db_table} o ON o.id = a.org_id "
        "WHERE t.digest = %s"
    )


def find_token(secret: str) -> ServiceAccountToken | None:
    """One indexed lookup by digest, with the account and its org joined in."""
    row = rows.fetch_one(_token_sql(), [token_format.digest(secret)])
    if row is None:
        return None
    split = len(TOKEN_FIELDS), len(TOKEN_FIELDS) + len(ACCOUNT_FIELDS)
    token = rows.build(ServiceAccountToken, TOKEN_FIELDS, row[: split[0]])
    account = rows.build(ServiceAccount, ACCOUNT_FIELDS, row[split[0] : split[1]])
    account.org = rows.build(Organization, ORG_FIELDS, row[split[1] :])
    token.service_account = account
    return token


def identity_for_token(token: ServiceAccountToken, org_id: int | None) -> Identity:
    """The service account behind a found token, or AuthenticationFailed with the reason.

    Every refusal carries the same client message; only the log learns which check failed.
    """
    now = timezone.now()
    account = token.service_account
    if token.is_revoked:
        raise AuthenticationFailed(f"token {token.pk} is revoked")
    if token.is_expired(now):
        raise AuthenticationFailed(f"token {token.pk} has expired")
    if account.is_disabled:
        raise AuthenticationFailed(f"service account {account.pk} is disabled")
    if org_id is not None and org_id != account.org_id:
        raise AuthenticationFailed(f"token {token.pk} used for org {org_id}")
    touch_last_used(token, now)
    return Identity(
        kind="service-account", org=account.org, role=Role(account.role), credential=account
    )


def touch_last_used(credential: models.Model, now: datetime) -> None:
    """Record use of a token or key at most once per interval, with one conditional UPDATE.

    Losing this write (a locked or read-only database) never fails the request.
    """
    threshold = now - timedelta(seconds=settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS)
    if credential.last_used_at is not None and credential.last_used_at >= threshold:
        return  # the row we just read is recent enough: no write at all
    try:
        type(credential).objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold), pk=credential.pk
        ).update(last_used_at=now)
    except DatabaseError:
        logger.warning("could not record last use of %s", credential, exc_info=True)


class ServiceAccountTokenBackend:
    """``Authorization: Bearer glsa_…`` or ``Basic api_key:glsa_…``."""

    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None:
        if not credentials.is_token or token_format.parse(credentials.secret) is None:
            return None
        token = find_token(credentials.secret)
        if token is None:
            raise AuthenticationFailed("unknown service account token")
        return identity_for_token(token, org_id)
