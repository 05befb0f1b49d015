"""Creating and deleting service-account tokens. The UI and the API both come through here."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import Identity, check_can_act_as
from accounts.errors import NotFound
from accounts.models import ServiceAccount
from accounts.names import name_key
from accounts.services import clean_name, save_unique
from tokens import format as token_format
from tokens.models import ServiceAccountToken

DAY_LIMIT_MESSAGE = (
    "The expiration date input exceeds the limit for service account access tokens expiration date"
)


def day_limit() -> int | None:
    return settings.KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT


def latest_expiry_date(now: datetime) -> datetime | None:
    """The last day a new token may expire on, when a day limit is configured."""
    limit = day_limit()
    return (now + timedelta(days=limit)) if limit else None


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    """Refuse expiries in the past or beyond ``KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT``.

    Like Grafana, the limit is compared by calendar day (UTC); unlike Grafana, a token that
    never expires is refused too when a limit is set.
    """
    latest = latest_expiry_date(now)
    if expires_at is None:
        if latest is not None:
            raise ValidationError(
                f"Tokens must expire within {day_limit()} days: choose an expiration date.",
                code="expiry_required",
            )
        return
    if expires_at <= now:
        raise ValidationError("The expiration date must be in the future.", code="expiry_past")
    if latest is not None and expires_at.date() > latest.date():
        raise ValidationError(DAY_LIMIT_MESSAGE, code="expiry_limit")


def suggest_token_name(account: ServiceAccount) -> str:
    """A free name like ``sa-1-ci-token-3`` to prefill the dialog with."""
    taken = set(account.tokens.values_list("name_key", flat=True))
    number = len(taken) + 1
    while name_key(f"{account.login}-token-{number}") in taken:
        number += 1
    return f"{account.login}-token-{number}"


@transaction.atomic
def token_create(
    *,
    identity: Identity,
    account: ServiceAccount,
    name: str,
    expires_at: datetime | None,
    now: datetime | None = None,
) -> tuple[ServiceAccountToken, str]:
    """Create a token; returns it with its secret, which exists only in this return value.

    A token acts as its account, so only someone with the account's role and permissions may
    create one (``check_can_act_as``).
    """
    now = now or timezone.now()
    name = clean_name(name, what="Token name", max_length=ServiceAccountToken.NAME_MAX_LENGTH)
    check_expiry(expires_at, now)
    # Lock the account so a concurrent delete can't leave the token pointing nowhere, and
    # decide on its current role and grants.
    locked = ServiceAccount.objects.select_for_update().filter(pk=account.pk).first()
    if locked is None:
        raise NotFound()
    check_can_act_as(identity, locked)
    secret = token_format.generate(settings.KEYHOUSE_TOKEN_PREFIX)
    token = ServiceAccountToken(
        service_account=account,
        name=name,
        digest=token_format.digest(secret),
        created_at=now,
        expires_at=expires_at,
    )
    save_unique(token, conflict=f"A token named '{name}' already exists for this service account.")
    return token, secret


def token_delete(*, token: ServiceAccountToken) -> None:
    token.delete()
