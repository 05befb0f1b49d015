"""``record``: the one way an audit event is written (DESIGN §13), and ``record_all`` for
the many events of one change (a migration batch); both go through ``write``.

Services call it inside their own transaction, after the change and with the identity that made
it, so a change and its event commit or roll back together. Views never call it, and no signal
does. Nothing passed here may be a secret, a digest or a password: targets are named by their
display names, and ``details`` holds names, roles, counts and dates only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accounts.access import Identity
from accounts.audit.models import (
    ACTIONS,
    NAME_MAX_LENGTH,
    SERVER_SCOPE,
    ActorType,
    AuditEvent,
    AuditTally,
)
from accounts.backends import find_user
from accounts.models import Organization, ServiceAccount, User, isoformat
from accounts.network import client_address


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, as the event keeps it."""

    type: ActorType
    id: int | None
    name: str
    address: str | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        """A management command or another job nobody signed in for."""
        return cls(ActorType.SYSTEM, None, name)

    @classmethod
    def person(cls, user: User, request: HttpRequest | None = None) -> Actor:
        """A signed-in person acting outside any org (a server admin's page), from where."""
        address = client_address(request) if request is not None else None
        return cls(ActorType.USER, user.pk, user.get_username(), address)

    @classmethod
    def of(cls, identity: Identity) -> Actor:
        """The person, service account or legacy key behind ``identity``."""
        if identity.kind == "user":
            user = identity.user  # None only for scripts acting as an org's Admin (bench)
            if user is None:
                return cls(ActorType.USER, None, "", identity.address)
            return cls(ActorType.USER, user.pk, user.get_username(), identity.address)
        if identity.kind == "service-account":
            model: type[models.Model] = ServiceAccount
            kind = ActorType.SERVICE_ACCOUNT
        else:  # the apikeys app is named, not imported: accounts imports no credential app
            model, kind = apps.get_model("apikeys", "ApiKey"), ActorType.API_KEY
        names = model._default_manager.filter(pk=identity.credential_id).values_list(
            "name", flat=True
        )
        return cls(kind, identity.credential_id, names.first() or "", identity.address)


# What each kind of object is called in an event's ``target_type``.
TARGET_TYPES = {
    "accounts.organization": "org",
    "accounts.user": "user",
    "accounts.serviceaccount": "service-account",
    "accounts.team": "team",
    "accounts.permission": "permission",
    "tokens.serviceaccounttoken": "token",
    "apikeys.apikey": "api-key",
}


@dataclass(frozen=True, slots=True)
class Target:
    type: str
    id: int | None
    name: str

    @classmethod
    def of(cls, obj: models.Model | None) -> Target:
        """An object of one of the ``TARGET_TYPES``, by its display name (a user's login)."""
        assert obj is not None
        name = obj.get_username() if isinstance(obj, User) else str(obj)
        return cls(TARGET_TYPES[obj._meta.label_lower], obj.pk, name)


def record(
    action: str,
    *,
    actor: Identity | Actor,
    target: models.Model | Target | None = None,
    org: Organization | int | EllipsisType | None = ...,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one event. ``org`` defaults to the acting identity's org; an ``Actor`` (the
    system, a sign-in) names it, None being server level. Called in the change's transaction,
    so a failure here undoes the change too."""
    if isinstance(actor, Identity):
        if org is ...:
            org = actor.org
        actor = Actor.of(actor)
    if org is ...:
        raise TypeError("record() needs the org when the actor is not an identity")
    if isinstance(target, models.Model):
        target = Target.of(target)
    [event] = write([_event(action, actor, org, target, details)])
    return event


def record_all(
    action: str,
    *,
    actor: Actor,
    org: Organization,
    events: Sequence[tuple[Target, dict[str, Any]]],
) -> None:
    """``record`` for many targets of one change at once (a migration batch): one INSERT."""
    write([_event(action, actor, org, target, details) for target, details in events])


def _event(
    action: str,
    actor: Actor,
    org: Organization | int | None,
    target: Target | None,
    details: dict[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        org_id=org.pk if isinstance(org, Organization) else org,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name[:NAME_MAX_LENGTH],
        action=action,
        target_type=target.type if target else "",
        target_id=target.id if target else None,
        target_name=target.name[:NAME_MAX_LENGTH] if target else "",
        details=details or {},
        address=actor.address,
    )


def add_to_tally(scope: int, count: int) -> None:
    """Change an org's (or the server's) event count by ``count``, in the caller's
    transaction."""
    if AuditTally.objects.filter(scope=scope).update(events=F("events") + count):
        return
    try:
        with transaction.atomic():
            AuditTally.objects.create(scope=scope, events=count)
    except IntegrityError:  # a concurrent first event of this scope made the row
        AuditTally.objects.filter(scope=scope).update(events=F("events") + count)


def write(events: list[AuditEvent]) -> list[AuditEvent]:
    """The one place events reach the database, with their scopes' tallies, in one
    transaction (a sign-in has none of its own)."""
    if unlisted := {event.action for event in events} - set(ACTIONS):
        # The audit page filters by ACTIONS: an action missing there could not be found.
        raise ValueError(f"audit actions missing from ACTIONS: {sorted(unlisted)}")
    counts = Counter(SERVER_SCOPE if event.org_id is None else event.org_id for event in events)
    with transaction.atomic(savepoint=False):
        for scope, count in sorted(counts.items()):
            add_to_tally(scope, count)
        return AuditEvent.objects.bulk_create(events)


SIGN_IN_OUTCOMES = ("success", "failure", "lockout")


def record_sign_in(
    request: HttpRequest, *, login: str, outcome: str, via: str, user: User | None = None
) -> AuditEvent:
    """A password sign-in (``via`` the login page or the API's Basic auth), server level.
    The login is kept as typed (cut short); the password never reaches this function. A
    refused one names the account the login belongs to, if any."""
    assert outcome in SIGN_IN_OUTCOMES
    if user is None:
        user = find_user(login.strip())
    address = client_address(request)
    actor = (
        Actor(ActorType.USER, user.pk, user.get_username(), address)
        if user is not None
        else Actor(ActorType.USER, None, "", address)
    )
    return record(
        f"signin.{outcome}",
        actor=actor,
        target=user,
        org=None,
        details={"login": login[:NAME_MAX_LENGTH], "via": via},
    )


PRUNE_BATCH = 5000
PRUNE_ACTOR = Actor.system("manage.py prune_audit")


def prune_events(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH) -> dict[int, int]:
    """Delete the events older than ``KEYHOUSE_AUDIT_RETENTION_DAYS``, oldest first, one short
    transaction per batch (the log stays writable meanwhile), keeping the tallies in step.
    Each org that lost events gets an ``audit.prune`` event saying how many, and the server one
    with the total. Returns the deletions per tally scope."""
    days = settings.KEYHOUSE_AUDIT_RETENTION_DAYS
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted: Counter[int] = Counter()
    while True:
        with transaction.atomic():
            batch = list(
                AuditEvent.objects.filter(time__lt=cutoff)
                .order_by("time", "id")
                .values_list("id", "org_id")[:batch_size]
            )
            if not batch:
                break
            by_scope: dict[int, list[int]] = {}
            for pk, org_id in batch:
                by_scope.setdefault(SERVER_SCOPE if org_id is None else org_id, []).append(pk)
            for scope, pks in sorted(by_scope.items()):
                # Counted by what this run deleted: a concurrent run may have taken some.
                count = AuditEvent.objects.filter(pk__in=pks).delete()[0]
                add_to_tally(scope, -count)
                deleted[scope] += count
    summary = {"before": isoformat(cutoff), "retentionDays": days}
    with transaction.atomic():
        for scope, count in sorted(deleted.items()):
            if scope != SERVER_SCOPE:
                org_details = {**summary, "deleted": count}
                record("audit.prune", actor=PRUNE_ACTOR, org=scope, details=org_details)
        total = {**summary, "deleted": sum(deleted.values())}
        record("audit.prune", actor=PRUNE_ACTOR, org=None, details=total)
    return dict(deleted)


def record_api_sign_in(request: HttpRequest, *, login: str, user: User) -> None:
    """A Basic-auth client signs in again with every request: its success is recorded (and
    the user's ``last_login`` moved) at most once per ``KEYHOUSE_LAST_USED_INTERVAL_SECONDS``,
    decided by one conditional UPDATE, like a token's last use."""
    now = timezone.now()
    threshold = now - timedelta(seconds=settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS)
    stale = models.Q(last_login__isnull=True) | models.Q(last_login__lt=threshold)
    if User.objects.filter(stale, pk=user.pk).update(last_login=now):
        record_sign_in(request, login=login, user=user, outcome="success", via="API")
