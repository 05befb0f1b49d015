from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit.services import Actor
from accounts.models import Organization
from apikeys.models import ApiKey
from apikeys.services import MigrationResult, migrate_keys, plan_migration

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Migrate legacy API keys to service accounts (each key keeps working as its new "
        "account's token) and print the same summary as the UI."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--org", type=int, help="the id of one organization")
        target.add_argument("--all-orgs", action="store_true", help="every organization")
        parser.add_argument(
            "--dry-run", action="store_true", help="only show what would be created"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all_orgs"]:
            orgs = list(Organization.objects.order_by("pk"))
        else:
            orgs = list(Organization.objects.filter(pk=options["org"]))
            if not orgs:
                raise CommandError(f"There is no organization with id {options['org']}.")
        failed = 0
        for org in orgs:
            if options["dry_run"]:
                self._preview(org)
            else:
                failed += self._migrate(org).failed
        if failed:
            raise CommandError(f"{failed} API key(s) could not be migrated; see above.")

    def _preview(self, org: Organization) -> None:
        total = ApiKey.objects.filter(org=org).unmigrated().count()
        self.stdout.write(f"{org.name} (id {org.pk}): {total} API key(s) would be migrated")
        for item in plan_migration(org):
            self.stdout.write(f"  {item.key.name} -> {item.name} ({item.key.role})")

    def _migrate(self, org: Organization) -> MigrationResult:
        total = ApiKey.objects.filter(org=org).unmigrated().count()
        self.stdout.write(f"{org.name} (id {org.pk}): migrating {total} API key(s)")

        def progress(done: int) -> None:
            filled = BAR_WIDTH * done // max(total, 1)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stderr.write(f"\r  [{bar}] {done}/{total}", ending="")

        result = migrate_keys(
            org,
            actor=Actor.system("manage.py migrate_api_keys"),
            progress=progress if total else None,
        )
        if total:
            self.stderr.write("")
        self.stdout.write(
            f"  Migration summary: total {result.total}, migrated {result.migrated}, "
            f"failed {result.failed}"
        )
        for detail in result.failed_details:
            self.stdout.write(self.style.ERROR(f"  {detail}"))
        return result
