from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from accounts.models import NamedModel, Organization, ServiceAccount, isoformat
from accounts.roles import Role


class ApiKeyQuerySet(models.QuerySet):
    def unmigrated(self) -> ApiKeyQuerySet:
        return self.filter(migrated_at__isnull=True)

    def unexpired(self, now: datetime) -> ApiKeyQuerySet:
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiKey(NamedModel):
    """A legacy org API key. Once migrated it lives on as its service account's token."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    is_revoked = models.BooleanField(default=False)
    # Set together by the migration. ``migrated_at`` is the flag: it stays even if the service
    # account is deleted later, so the old key never comes back to life as a legacy key.
    migrated_at = models.DateTimeField(null=True, blank=True)
    service_account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["name_key", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name_key"], name="apikeys_name_unique"),
        ]

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_api(self) -> dict:
        data: dict = {"id": self.pk, "name": self.name, "role": self.role}
        if self.expires_at is not None:
            data["expiration"] = isoformat(self.expires_at)
        if self.last_used_at is not None:
            data["lastUsedAt"] = isoformat(self.last_used_at)
        return data
