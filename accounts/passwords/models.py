from __future__ import annotations

from django.db import models


class ResetRequest(models.Model):
    """One "Forgot password?" request, kept for an hour to throttle them. The address is
    kept only as a digest: nobody learns from this table which addresses were tried."""

    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    address_digest = models.CharField(max_length=64)
    client = models.CharField(max_length=45, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["address_digest", "requested_at"], name="accounts_reset_address"),
            models.Index(fields=["client", "requested_at"], name="accounts_reset_client"),
        ]

    def __str__(self) -> str:
        return f"Password reset request at {self.requested_at:%Y-%m-%d %H:%M}"
