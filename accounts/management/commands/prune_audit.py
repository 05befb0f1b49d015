from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.audit.services import prune_events


class Command(BaseCommand):
    help = (
        "Delete audit events older than KEYHOUSE_AUDIT_RETENTION_DAYS, in batches, and record "
        "that it did (in each org that lost events, and at server level). Run it daily."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = sum(prune_events().values())
        self.stdout.write(
            f"Deleted {deleted} audit event(s) older than "
            f"{settings.KEYHOUSE_AUDIT_RETENTION_DAYS} day(s)."
        )
