"""Creating, renaming, revoking, rotating and deleting service-account tokens. The UI, the
API and the management commands all come through here; each write is one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.access import Identity, check_can_act_as, check_can_manage_account
from accounts.audit.services import Actor, Target, record
from accounts.errors import Conflict, NotFound, Refusal
from accounts.models import Organization, ServiceAccount, User, isoformat
from accounts.names import fits, name_key
from accounts.roles import Role
from accounts.services import MAX_SECONDS_TO_LIVE, clean_name, save_unique
from tokens import format as token_format
from tokens.emails import expiry_digest
from tokens.models import ServiceAccountToken

logger = logging.getLogger("keyhouse.tokens")

DAY_LIMIT_MESSAGE = (
    "The expiration date input exceeds the limit for service account access tokens expiration date"
)
# How long a rotated token may keep working next to its replacement.
MAX_GRACE = timedelta(days=7)
DEFAULT_GRACE = timedelta(hours=24)


class NotRotatable(Refusal):
    """A revoked or expired token has nothing left to hand over."""


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
    if expires_at > now + timedelta(seconds=MAX_SECONDS_TO_LIVE):
        # The API's secondsToLive has the same ceiling; a date picker must not go past it.
        raise ValidationError("The expiration date must be within 100 years.", code="expiry_far")
    if latest is not None and expires_at.date() > latest.date():
        raise ValidationError(DAY_LIMIT_MESSAGE, code="expiry_limit")


def suggest_token_name(account: ServiceAccount) -> str:
    """A free name like ``sa-1-ci-token-3`` to prefill the dialog with."""
    taken = set(account.tokens.values_list("name_key", flat=True))
    number = len(taken) + 1
    while name_key(f"{account.login}-token-{number}") in taken:
        number += 1
    return f"{account.login}-token-{number}"


def clean_token_name(name: str) -> str:
    return clean_name(name, what="Token name", max_length=ServiceAccountToken.NAME_MAX_LENGTH)


def _name_taken(name: str) -> str:
    return f"A token named '{name}' already exists for this service account."


def _save_new_token(
    account: ServiceAccount, name: str, expires_at: datetime | None, now: datetime
) -> tuple[ServiceAccountToken, str]:
    secret = token_format.generate(settings.KEYHOUSE_TOKEN_PREFIX)
    token = ServiceAccountToken(
        service_account=account,
        name=name,
        digest=token_format.digest(secret),
        created_at=now,
        expires_at=expires_at,
    )
    save_unique(token, conflict=_name_taken(name))
    return token, secret


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
    name = clean_token_name(name)
    check_expiry(expires_at, now)
    # Lock the account so a concurrent delete can't leave the token pointing nowhere, and
    # decide on its current role and grants.
    locked = ServiceAccount.objects.select_for_update().filter(pk=account.pk).first()
    if locked is None:
        raise NotFound()
    check_can_act_as(identity, locked)
    token, secret = _save_new_token(account, name, expires_at, now)
    record("token.create", actor=identity, target=token, details=_token_details(token))
    return token, secret


def _token_details(token: ServiceAccountToken) -> dict:
    """What every token event says besides the token's name: its account and expiry."""
    return {
        "serviceAccount": {"id": token.service_account_id, "name": token.service_account.name},
        "expiration": isoformat(token.expires_at),
    }


def _locked(token: ServiceAccountToken) -> ServiceAccountToken:
    """The token's row and its service account's, locked and read afresh (a concurrent request
    may have changed them). The account first, as deleting the account does before it deletes
    the account's tokens: holding the token while waiting for the account would deadlock."""
    account = ServiceAccount.objects.select_for_update().filter(pk=token.service_account_id).first()
    if account is None:
        raise NotFound()
    locked = ServiceAccountToken.objects.select_for_update().filter(pk=token.pk).first()
    if locked is None:
        raise NotFound()
    locked.service_account = account
    return locked


@transaction.atomic
def token_rename(
    *, identity: Identity, token: ServiceAccountToken, name: str
) -> ServiceAccountToken:
    """Rename under the same rules as at creation; the secret does not change."""
    name = clean_token_name(name)
    locked = _locked(token)
    check_can_manage_account(identity, locked.service_account)
    before = locked.name
    locked.name = name
    save_unique(locked, conflict=_name_taken(name), update_fields=["name"])
    if before != name:
        details = {**_token_details(locked), "name": {"from": before, "to": name}}
        record("token.rename", actor=identity, target=locked, details=details)
    return locked


@transaction.atomic
def token_revoke(
    *, identity: Identity, token: ServiceAccountToken, now: datetime | None = None
) -> ServiceAccountToken:
    """Revoke for good (it stays listed); revoking a revoked token changes nothing."""
    locked = _locked(token)
    check_can_manage_account(identity, locked.service_account)
    if not locked.is_revoked:
        locked.is_revoked = True
        locked.revoked_at = now or timezone.now()
        locked.save(update_fields=["is_revoked", "revoked_at"])
        record("token.revoke", actor=identity, target=locked, details=_token_details(locked))
    return locked


@dataclass(frozen=True, slots=True)
class Rotation:
    old: ServiceAccountToken
    new: ServiceAccountToken
    secret: str  # the new token's; exists only in this return value


def rotated_name(token: ServiceAccountToken, now: datetime) -> str:
    """``<name> (rotated <date>)``, shortened to fit and numbered when already taken."""
    taken = set(
        ServiceAccountToken.objects.filter(service_account_id=token.service_account_id)
        .exclude(pk=token.pk)
        .values_list("name_key", flat=True)
    )
    label = f"rotated {now:%Y-%m-%d}"
    for number in range(1, 1000):
        suffix = f" ({label})" if number == 1 else f" ({label}, {number})"
        base = token.name
        while not fits(base + suffix, ServiceAccountToken.NAME_MAX_LENGTH):
            base = base[:-1]
        name = base.rstrip() + suffix
        if name_key(name) not in taken:
            return name
    raise Conflict(f"No free name is left for the rotated token '{token.name}'.")


def check_rotatable(token: ServiceAccountToken, now: datetime) -> None:
    """Refuse to rotate a token that is revoked, expired, or already replaced."""
    if token.is_revoked:
        raise NotRotatable(f"The token '{token.name}' is revoked: it cannot be rotated.")
    if token.is_expired(now):
        raise NotRotatable(f"The token '{token.name}' has expired: it cannot be rotated.")
    if token.rotated_at is not None:
        raise Conflict(
            f"The token '{token.name}' was already rotated: rotate its replacement instead."
        )


@transaction.atomic
def token_rotate(
    *,
    identity: Identity,
    token: ServiceAccountToken,
    grace: timedelta,
    expires_at: datetime | None,
    now: datetime | None = None,
) -> Rotation:
    """Replace a token by a new one with its name, keeping the old one working for ``grace``.

    In one transaction: the old token is renamed ``<name> (rotated <date>)`` and expires at
    the earlier of its own expiry and now + grace; the new one takes its name. The old row
    is locked first, so of two concurrent rotations the second finds it rotated and is
    refused: one token, one new secret. Like creating one, only someone with the account's
    role and permissions may (``check_can_act_as``).
    """
    now = now or timezone.now()
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise ValidationError(
            f"The grace period must be between 0 and {MAX_GRACE.days} days.", code="grace"
        )
    check_expiry(expires_at, now)
    # Lock the account with the token, so a concurrent delete can't orphan the new token.
    old = _locked(token)
    check_rotatable(old, now)
    check_can_act_as(identity, old.service_account)
    name = old.name
    grace_end = now + grace
    old.name = rotated_name(old, now)
    old.expires_at = grace_end if old.expires_at is None else min(old.expires_at, grace_end)
    old.rotated_at = now
    save_unique(
        old, conflict=_name_taken(old.name), update_fields=["name", "expires_at", "rotated_at"]
    )
    new, secret = _save_new_token(old.service_account, name, expires_at, now)
    details = {
        **_token_details(new),
        "replaced": {"id": old.pk, "name": old.name, "expiration": isoformat(old.expires_at)},
    }
    record("token.rotate", actor=identity, target=new, details=details)
    return Rotation(old=old, new=new, secret=secret)


@transaction.atomic
def token_delete(*, identity: Identity, token: ServiceAccountToken) -> None:
    locked = _locked(token)
    check_can_manage_account(identity, locked.service_account)
    target, details = Target.of(locked), _token_details(locked)
    locked.delete()
    record("token.delete", actor=identity, target=target, details=details)


EXPIRY_ACTOR = Actor.system("token expiry")


def record_expiries(tokens: models.QuerySet[ServiceAccountToken], now: datetime) -> int:
    """Write ``token.expire`` for each of ``tokens`` that has expired and has none yet, in
    its org; returns how many. Called where an expiry is first seen (a request with the
    token, the expiry digest's run), so each token gets the event at most once: the
    conditional UPDATE claims it, and only the request that changed the row records."""
    expired = tokens.filter(expires_at__lte=now, expiry_recorded_at__isnull=True)
    recorded = 0
    with transaction.atomic():
        for token in expired.select_related("service_account"):
            claimed = ServiceAccountToken.objects.filter(
                pk=token.pk, expiry_recorded_at__isnull=True
            ).update(expiry_recorded_at=now)
            if claimed:
                record(
                    "token.expire",
                    actor=EXPIRY_ACTOR,
                    org=token.service_account.org_id,
                    target=token,
                    details=_token_details(token),
                )
                recorded += 1
    return recorded


# --- Expiry warnings (manage.py notify_expiring_tokens) -----------------------------------


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    org: Organization
    tokens: list[ServiceAccountToken]
    recipients: list[str]
    sent: bool
    problem: str = ""  # why it was not sent


def _unannounced(org_id: int | None, now: datetime) -> models.QuerySet[ServiceAccountToken]:
    tokens = ServiceAccountToken.objects.expiring_soon(now).filter(expiry_notified_at__isnull=True)
    return tokens if org_id is None else tokens.for_org(org_id)


def admin_addresses(org: Organization) -> list[str]:
    """The e-mail addresses of the org's active Admins."""
    admins = User.objects.filter(
        memberships__org=org, memberships__role=Role.ADMIN, is_active=True
    ).exclude(email="")
    return sorted(set(admins.values_list("email", flat=True)))


def send_expiry_digests(*, now: datetime | None = None) -> list[DigestOutcome]:
    """E-mail each org's Admins one digest of its tokens that expire soon and no digest has
    named yet; then those tokens are never named again (a rotation's new token starts
    afresh). Safe to run from cron every hour, and twice at once.

    Tokens are claimed (marked, in a short transaction, skipping rows another run holds)
    before the mail goes out and released if it cannot be sent, so a later run retries them.
    An org without an Admin who has an e-mail address is skipped and retried next time.
    Tokens that expired since the last run get their ``token.expire`` audit event first.
    """
    now = now or timezone.now()
    record_expiries(ServiceAccountToken.objects.all(), now)
    org_ids = _unannounced(None, now).values_list("service_account__org_id", flat=True)
    outcomes = []
    for org in Organization.objects.filter(pk__in=org_ids).order_by("pk"):
        recipients = admin_addresses(org)
        if not recipients:
            problem = "no active Admin of this organization has an e-mail address"
            outcomes.append(DigestOutcome(org, [], [], sent=False, problem=problem))
            continue
        tokens = _claim(org, now)
        if not tokens:
            continue  # another run took them
        try:
            expiry_digest(org=org, tokens=tokens, recipients=recipients, now=now).send()
        except Exception as exc:  # SMTP and socket errors alike: retry on the next run
            logger.exception("could not send the expiry digest of org %s", org.pk)
            ServiceAccountToken.objects.filter(
                pk__in=[token.pk for token in tokens], expiry_notified_at=now
            ).update(expiry_notified_at=None)
            problem = f"sending failed: {exc}"
            outcomes.append(DigestOutcome(org, tokens, recipients, sent=False, problem=problem))
            continue
        outcomes.append(DigestOutcome(org, tokens, recipients, sent=True))
    return outcomes


@transaction.atomic
def _claim(org: Organization, now: datetime) -> list[ServiceAccountToken]:
    tokens = list(
        _unannounced(org.pk, now)
        .select_related("service_account")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("expires_at", "pk")
    )
    ServiceAccountToken.objects.filter(pk__in=[token.pk for token in tokens]).update(
        expiry_notified_at=now
    )
    return tokens
