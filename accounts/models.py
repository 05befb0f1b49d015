from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

from accounts.names import name_key
from accounts.roles import Role

MAIN_ORG_ID = 1
MAIN_ORG_NAME = "Main Org."


class Organization(models.Model):
    name = models.CharField(max_length=190)
    name_key = models.CharField(max_length=190, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    api_keys_migrated_at = models.DateTimeField(null=True, blank=True)
    api_keys_hidden = models.BooleanField(default=False)

    class Meta:
        ordering = ["name_key"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name_key = name_key(self.name)
        super().save(*args, **kwargs)

    def to_api(self) -> dict:
        blank = ""
        return {
            "id": self.pk,
            "name": self.name,
            "address": {
                "address1": blank,
                "address2": blank,
                "city": blank,
                "zipCode": blank,
                "state": blank,
                "country": blank,
            },
        }


class User(AbstractUser):
    """A person who signs in. ``is_superuser`` makes them a server admin."""

    name = models.CharField(max_length=190, blank=True)
    email = models.EmailField(blank=True)
    current_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_unique_ci",
            ),
        ]

    @property
    def is_server_admin(self) -> bool:
        return self.is_superuser

    def to_api(self, org: Organization) -> dict:
        return {
            "id": self.pk,
            "login": self.username,
            "email": self.email,
            "name": self.name,
            "orgId": org.pk,
            "isGrafanaAdmin": self.is_superuser,
        }


class Membership(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="accounts_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} ({self.role})"
