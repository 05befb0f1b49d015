from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tokens.services import send_expiry_digests


class Command(BaseCommand):
    help = (
        "E-mail each organization's Admins one digest of the service account tokens that "
        "expire within KEYHOUSE_EXPIRING_SOON_DAYS. Each token is named in one digest only, "
        "so this can run from cron every hour."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = send_expiry_digests()
        failed = [outcome for outcome in outcomes if outcome.tokens and not outcome.sent]
        for outcome in outcomes:
            org = f"{outcome.org.name} (id {outcome.org.pk})"
            if not outcome.sent:
                self.stderr.write(f"{org}: not sent: {outcome.problem}")
            else:
                self.stdout.write(
                    f"{org}: {len(outcome.tokens)} token(s) expiring within "
                    f"{settings.KEYHOUSE_EXPIRING_SOON_DAYS} day(s), sent to "
                    f"{len(outcome.recipients)} Admin(s)"
                )
        if not outcomes:
            self.stdout.write("No token needs a warning.")
        if failed:
            raise CommandError(f"{len(failed)} digest(s) could not be sent; see above.")
