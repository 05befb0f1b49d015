from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from accounts.models import NamedModel, ServiceAccount, isoformat

EXPIRY_WARNING = timedelta(days=7)


class ServiceAccountToken(NamedModel):
    """A named credential of a service account. Only the SHA-256 digest of the secret is kept."""

    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="tokens"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    is_revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_account", "name_key"], name="tokens_name_unique"
            ),
        ]

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def seconds_until_expiration(self, now: datetime | None = None) -> int:
        """Seconds left, reported (as Grafana does) only within the last 7 days."""
        if self.expires_at is None:
            return 0
        left = self.expires_at - (now or timezone.now())
        if timedelta(0) < left <= EXPIRY_WARNING:
            return int(left.total_seconds())
        return 0

    def days_until_expiration(self, now: datetime | None = None) -> int | None:
        """Whole days left while under the warning window, else None."""
        seconds = self.seconds_until_expiration(now)
        return max(1, round(seconds / 86400)) if seconds else None

    def to_api(self, now: datetime | None = None) -> dict:
        now = now or timezone.now()
        return {
            "id": self.pk,
            "name": self.name,
            "created": isoformat(self.created_at),
            "lastUsedAt": isoformat(self.last_used_at),
            "expiration": isoformat(self.expires_at),
            "secondsUntilExpiration": self.seconds_until_expiration(now),
            "hasExpired": self.is_expired(now),
            "isRevoked": self.is_revoked,
        }
