from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from accounts.models import (
    NamedModel,
    ServiceAccount,
    expiring_soon_window,
    expiring_tokens,
    isoformat,
)

EXPIRY_WARNING = timedelta(days=7)  # Grafana's window for secondsUntilExpiration
USER_AGENT_MAX_LENGTH = 200


class ServiceAccountTokenQuerySet(models.QuerySet["ServiceAccountToken"]):
    def for_org(self, org_id: int) -> ServiceAccountTokenQuerySet:
        return self.filter(service_account__org_id=org_id)

    def expiring_soon(self, now: datetime) -> ServiceAccountTokenQuerySet:
        return self.filter(expiring_tokens(now))


class ServiceAccountToken(NamedModel):
    """A named credential of a service account. Only the SHA-256 digest of the secret is kept."""

    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="tokens"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Where the last recorded use came from (written with last_used_at, never the credential).
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    last_used_user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    is_revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set on the old token when a rotation replaced it; it then works until its (shortened)
    # expiry and cannot be rotated again.
    rotated_at = models.DateTimeField(null=True, blank=True)
    # When the expiry digest (manage.py notify_expiring_tokens) last named this token.
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    # When the audit log first recorded that the token had expired (at most once).
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)

    objects = ServiceAccountTokenQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_account", "name_key"], name="tokens_name_unique"
            ),
        ]
        # "Expiring soon" (the nav count on every page, the digest) looks tokens up by expiry;
        # the service account list counts an account's expired ones and finds its next expiry.
        indexes = [
            models.Index(fields=["expires_at"], name="tokens_expires_at_idx"),
            models.Index(
                fields=["service_account", "expires_at"], name="tokens_account_expiry_idx"
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

    def is_expiring_soon(self, now: datetime) -> bool:
        """What ``accounts.models.expiring_tokens`` selects, for one token in hand."""
        if self.expires_at is None or self.is_revoked or self.rotated_at is not None:
            return False
        return now < self.expires_at <= now + expiring_soon_window()

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
            "revokedAt": isoformat(self.revoked_at),
            "rotatedAt": isoformat(self.rotated_at),
            "lastUsedIp": self.last_used_ip,
            "lastUsedUserAgent": self.last_used_user_agent or None,
        }
