"""The audit log (DESIGN §13): one append-only row per change of a credential or of who may
do what, written by ``accounts.audit.services.record`` in the change's own transaction.

Org, actor and target are plain ids with the display names they had at that moment, never
foreign keys: an event outlives the account, token or org it describes.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import isoformat

NAME_MAX_LENGTH = 255


class ActorType(models.TextChoices):
    USER = "user", "User"
    SERVICE_ACCOUNT = "service-account", "Service account"
    API_KEY = "api-key", "API key"
    SYSTEM = "system", "System"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def newest_first(self) -> AuditEventQuerySet:
        return self.order_by("-time", "-id")


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
