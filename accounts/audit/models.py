"""The audit log (DESIGN §13): one append-only row per change of a credential or of who may
do what, written by ``accounts.audit.services.record`` in the change's own transaction.

Org, actor and target are plain ids with the display names they had at that moment, never
foreign keys: an event outlives the account, token or org it describes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import models
from django.utils import timezone

from accounts.models import isoformat

NAME_MAX_LENGTH = 255

# Every action the services record, by family (the audit page offers them to filter by).
ACTIONS = (
    "serviceaccount.create",
    "serviceaccount.update",
    "serviceaccount.disable",
    "serviceaccount.enable",
    "serviceaccount.delete",
    "serviceaccount.permissions",
    "token.create",
    "token.rename",
    "token.revoke",
    "token.rotate",
    "token.delete",
    "token.expire",
    "token.leak-report",
    "apikey.create",
    "apikey.delete",
    "apikey.migrate",
    "apikey.migrate-all",
    "apikey.leak-report",
    "apikeys.hide",
    "team.create",
    "team.update",
    "team.delete",
    "team.member.add",
    "team.member.remove",
    "team.permissions",
    "permission.create",
    "permission.delete",
    "orgmember.add",
    "orgmember.update",
    "orgmember.remove",
    "invite.create",
    "invite.revoke",
    "invite.accept",
    "org.create",
    "org.rename",
    "org.delete",
    "user.create",
    "user.update",
    "user.disable",
    "user.enable",
    "user.server-admin.grant",
    "user.server-admin.revoke",
    "user.password-reset",
    "servergrant.give",
    "servergrant.remove",
    "signin.success",
    "signin.failure",
    "signin.lockout",
    "audit.prune",
)


class ActorType(models.TextChoices):
    USER = "user", "User"
    SERVICE_ACCOUNT = "service-account", "Service account"
    API_KEY = "api-key", "API key"
    SYSTEM = "system", "System"


SERVER_SCOPE = 0  # the tally's key for server-level events (no org has id 0)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def in_scopes(self, org_ids: Sequence[int | None]) -> AuditEventQuerySet:
        """The events of these orgs (None: server level), newest first."""
        scope = models.Q(org_id__in=[pk for pk in org_ids if pk is not None])
        if None in org_ids:
            scope |= models.Q(org_id__isnull=True)
        return self.filter(scope).order_by("-time", "-id")

    def matching(
        self,
        *,
        action: str = "",
        actor_type: str = "",
        target_type: str = "",
        target_id: int | None = None,
    ) -> AuditEventQuerySet:
        """``action`` is one action (``token.rotate``) or a family of them (``token``)."""
        events = self
        if action:
            events = events.filter(
                models.Q(action=action) | models.Q(action__startswith=f"{action}.")
            )
        if actor_type:
            events = events.filter(actor_type=actor_type)
        if target_type:
            events = events.filter(target_type=target_type)
        if target_id is not None:
            events = events.filter(target_id=target_id)
        return events

    def about_service_account(self, account_id: int) -> AuditEventQuerySet:
        """What was done to a service account or its tokens, and what it did itself."""
        return self.filter(
            models.Q(target_type="service-account", target_id=account_id)
            | models.Q(details__serviceAccount__id=account_id)
            | models.Q(actor_type=ActorType.SERVICE_ACCOUNT, actor_id=account_id)
        )


class AuditEvent(models.Model):
    time = models.DateTimeField(default=timezone.now)
    org_id = models.BigIntegerField(null=True, blank=True)  # None: a server-level event
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    details = models.JSONField(default=dict, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            # Listing: one org's events newest first (PostgreSQL and SQLite read it backwards).
            models.Index(fields=["org_id", "time", "id"], name="audit_org_time_idx"),
            # "This service account's events" and the expiry-seen check.
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            # prune_audit: everything older than the retention, whatever the org.
            models.Index(fields=["time"], name="audit_time_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.time:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_name or self.actor_type}"
        )

    def details_text(self) -> str:
        """The details in one line, for the audit page."""
        # Keys sorted: PostgreSQL's jsonb keeps its own key order, SQLite the written one.
        return json.dumps(self.details, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)

    def to_api(self) -> dict:
        return {
            "id": self.pk,
            "time": isoformat(self.time),
            "orgId": self.org_id,
            "actor": {"type": self.actor_type, "id": self.actor_id, "name": self.actor_name},
            "action": self.action,
            "target": {"type": self.target_type, "id": self.target_id, "name": self.target_name},
            "details": self.details,
            "address": self.address,
        }


class AuditTally(models.Model):
    """How many events an org (or, as ``SERVER_SCOPE``, the server) has: kept in step by
    ``record`` and ``prune_audit`` in their own transactions, so the log's total is one row
    read however long the log grows, where a COUNT would read the whole index."""

    scope = models.BigIntegerField(unique=True)
    events = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.events} events in scope {self.scope}"
