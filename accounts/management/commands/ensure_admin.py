import os
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Membership, User
from accounts.roles import Role
from accounts.services import main_org


class Command(BaseCommand):
    help = (
        "Make sure the first server admin exists: $KEYHOUSE_ADMIN_USER (default 'admin') with "
        "$KEYHOUSE_ADMIN_PASSWORD, or a generated password printed once. Never resets an "
        "existing admin's password."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("KEYHOUSE_ADMIN_USER", "").strip() or "admin"
        password = os.environ.get("KEYHOUSE_ADMIN_PASSWORD", "")
        org = main_org()
        if org is None:
            raise CommandError("Main Org. is missing: run `manage.py migrate` first.")
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user '{username}' already exists; nothing to do.")
            return
        generated = not password
        if generated:
            password = secrets.token_urlsafe(18)
        user = User(username=username, is_superuser=True, is_staff=True, current_org=org)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(
                "KEYHOUSE_ADMIN_PASSWORD is too weak: " + " ".join(exc.messages)
            ) from None
        user.set_password(password)
        user.save()
        Membership.objects.create(org=org, user=user, role=Role.ADMIN)
        self.stdout.write(
            self.style.SUCCESS(f"Created server admin '{username}' in org '{org.name}'.")
        )
        if generated:
            # Printed once, to the operator's terminal only; it is stored as an Argon2 hash.
            self.stdout.write(
                self.style.WARNING(f"Generated password (shown only now): {password}")
            )
