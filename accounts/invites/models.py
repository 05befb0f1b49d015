"""Invitations to join an org (Grafana's "pending invites").

The link an invitee gets carries a secret that is stored only as its SHA-256 digest; ``code``
is a separate, public handle that the list shows and revoking names (Grafana's API revokes
``/api/org/invites/<code>/revoke``), so nothing the list reveals can accept an invite.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.db import models
from django.utils import timezone

from accounts.models import Organization, User, isoformat
from accounts.roles import Role

SECRET_BYTES = 32
CODE_BYTES = 9


def invite_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


class InviteQuerySet(models.QuerySet["Invite"]):
    def pending(self, now: datetime | None = None) -> InviteQuerySet:
        """Neither accepted nor revoked, and not expired."""
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now or timezone.now()
        )


class Invite(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    name = models.CharField(max_length=190, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    code = models.CharField(max_length=32, unique=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    email_sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["org", "email"], name="accounts_invite_org_email")]

    def __str__(self) -> str:
        return f"Invite of {self.email} to {self.org}"

    def to_api(self) -> dict:
        """Grafana's TempUserDTO. ``url`` stays empty: the link's secret is not kept."""
        inviter = self.invited_by
        return {
            "id": self.pk,
            "orgId": self.org_id,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "invitedByLogin": inviter.username if inviter else "",
            "invitedByEmail": inviter.email if inviter else "",
            "invitedByName": inviter.name if inviter else "",
            "code": self.code,
            "status": "InvitePending",
            "url": "",
            "emailSent": self.email_sent_at is not None,
            "emailSentOn": isoformat(self.email_sent_at),
            "createdOn": isoformat(self.created_at),
            "expiresAt": isoformat(self.expires_at),
        }
