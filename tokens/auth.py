"""Bearer authentication with service-account tokens (a ``KEYHOUSE_CREDENTIAL_BACKENDS`` entry)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import DatabaseError, models
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts import rows
from accounts.access import Identity, IdentityKind
from accounts.api_auth import AuthenticationFailed, Credentials
from accounts.models import Organization, ServiceAccount
from accounts.roles import Role
from tokens import format as token_format
from tokens.models import ServiceAccountToken

logger = logging.getLogger("keyhouse.auth")


@dataclass(frozen=True, slots=True)
class FoundCredential:
    """What authentication needs of a token's (or legacy key's) row and its org.

    Plain values rather than model instances: building models costs more than the query.
    """

    model: type[models.Model]  # where the row and its last_used_at live
    pk: int
    kind: IdentityKind
    owner_id: int  # the service account (or, for an unmigrated key, the key itself)
    role: str
    is_disabled: bool
    is_revoked: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    org: Organization


TOKEN_FIELDS = ("id", "service_account_id", "expires_at", "last_used_at", "is_revoked")
ACCOUNT_FIELDS = ("role", "is_disabled")
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


def find_token(digest: str) -> FoundCredential | None:
    """One indexed lookup by digest, with the account and its org joined in."""
    row = rows.fetch_one(_token_sql(), [digest])
    if row is None:
        return None
    split = len(TOKEN_FIELDS), len(TOKEN_FIELDS) + len(ACCOUNT_FIELDS)
    pk, account_id, expires_at, last_used_at, is_revoked = rows.convert(
        ServiceAccountToken, TOKEN_FIELDS, row[: split[0]]
    )
    role, is_disabled = rows.convert(ServiceAccount, ACCOUNT_FIELDS, row[split[0] : split[1]])
    return FoundCredential(
        model=ServiceAccountToken,
        pk=pk,
        kind="service-account",
        owner_id=account_id,
        role=role,
        is_disabled=is_disabled,
        is_revoked=is_revoked,
        expires_at=expires_at,
        last_used_at=last_used_at,
        org=rows.build(Organization, ORG_FIELDS, row[split[1] :]),
    )


def identity_for(found: FoundCredential, org_id: int | None) -> Identity:
    """The identity behind a found credential, or AuthenticationFailed with the reason.

    Every refusal carries the same client message; only the log learns which check failed.
    """
    now = timezone.now()
    label = f"{found.model._meta.verbose_name} {found.pk}"
    if found.is_revoked:
        raise AuthenticationFailed(f"{label} is revoked")
    if found.expires_at is not None and found.expires_at <= now:
        raise AuthenticationFailed(f"{label} has expired")
    if found.is_disabled:
        raise AuthenticationFailed(f"service account {found.owner_id} is disabled")
    if org_id is not None and org_id != found.org.pk:
        raise AuthenticationFailed(f"{label} used for org {org_id}")
    touch_last_used(found, now)
    return Identity(
        kind=found.kind, org=found.org, role=Role(found.role), credential_id=found.owner_id
    )


def touch_last_used(found: FoundCredential, now: datetime) -> None:
    """Record use of a token or key at most once per interval, with one conditional UPDATE.

    Losing this write (a locked or read-only database) never fails the request.
    """
    threshold = now - timedelta(seconds=settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS)
    if found.last_used_at is not None and found.last_used_at >= threshold:
        return  # the row we just read is recent enough: no write at all
    try:
        found.model.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold), pk=found.pk
        ).update(last_used_at=now)
    except DatabaseError:
        logger.warning("could not record last use of %s %s", found.model.__name__, found.pk)


class ServiceAccountTokenBackend:
    """``Authorization: Bearer glsa_…`` or ``Basic api_key:glsa_…``."""

    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None:
        if not credentials.is_token or token_format.parse(credentials.secret) is None:
            return None
        token = find_token(token_format.digest(credentials.secret))
        if token is None:
            raise AuthenticationFailed("unknown service account token")
        return identity_for(token, org_id)
