from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.templatetags.static import static
from django.utils import timezone

from accounts.names import name_key
from accounts.roles import Role

MAIN_ORG_ID = 1
SEARCH_MAX_LENGTH = 200


class NamedModel(models.Model):
    """A display name and its comparison key (``accounts.names.name_key``), kept in step:
    ``clean()`` derives the key (``save_unique`` checks uniqueness on it) and ``save()``
    writes it whenever ``name`` is written, ``update_fields`` included."""

    NAME_MAX_LENGTH = 190
    # Counters the database keeps (triggers, migration tokens 0005): the row's value may be
    # newer than the instance's, so saving an existing row writes every field but these.
    DATABASE_KEPT: tuple[str, ...] = ()

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    name_key = models.CharField(max_length=NAME_MAX_LENGTH, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = name_key(self.name)
        if self.DATABASE_KEPT and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in self.DATABASE_KEPT
            ]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.name_key = name_key(self.name)


class Organization(NamedModel):
    name_key = models.CharField(max_length=190, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    api_keys_migrated_at = models.DateTimeField(null=True, blank=True)
    api_keys_hidden = models.BooleanField(default=False)
    # How many service accounts it has: the total of an unfiltered listing without a COUNT
    # over them all (see ServiceAccount.token_count).
    service_account_count = models.PositiveIntegerField(default=0, editable=False)

    DATABASE_KEPT = ("service_account_count",)

    class Meta:
        ordering = ["name_key"]

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

    LOGIN_MAX_LENGTH = 150  # AbstractUser.username
    name = models.CharField(max_length=190, blank=True)
    email = models.EmailField(blank=True)
    current_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_unique_ci",
            ),
        ]

    def to_api(self, org: Organization) -> dict:
        return {
            "id": self.pk,
            "login": self.username,
            "email": self.email,
            "name": self.name,
            "orgId": org.pk,
            "isGrafanaAdmin": self.is_superuser,
        }


class MembershipQuerySet(models.QuerySet["Membership"]):
    def search(self, query: str) -> MembershipQuerySet:
        """The member's login, e-mail or name contains ``query`` (ignoring case)."""
        query = query.replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
        if not query:
            return self
        return self.filter(
            models.Q(user__username__icontains=query)
            | models.Q(user__email__icontains=query)
            | models.Q(user__name__icontains=query)
        )

    def sole_admin_ids(self) -> set[int]:
        """The ids of the memberships among these that are their org's only Admin: removing
        one is refused (``membership_remove``), so pages offer no Remove button for it."""
        lone = (
            Membership.objects.filter(role=Role.ADMIN)
            .values("org")
            .annotate(admins=models.Count("pk"))
            .filter(admins=1)
            .values("org")
        )
        return set(self.filter(role=Role.ADMIN, org__in=lone).values_list("pk", flat=True))


class Membership(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="accounts_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} ({self.role})"


def expiring_soon_window() -> timedelta:
    """How far ahead "Expiring soon" looks (``KEYHOUSE_EXPIRING_SOON_DAYS``)."""
    return timedelta(days=settings.KEYHOUSE_EXPIRING_SOON_DAYS)


def expiring_tokens(now: datetime, via: str = "") -> models.Q:
    """Tokens that still work and stop within the "Expiring soon" window: the one definition
    behind the list filter, the badges, the nav count and the e-mail digest. ``via`` is the
    path from the queried model to the token (``"tokens__"`` from a service account), so
    this app names the tokens app's fields without importing it. A rotated token is left
    out: its end was chosen when it was replaced."""
    return models.Q(
        **{
            f"{via}is_revoked": False,
            f"{via}rotated_at__isnull": True,
            f"{via}expires_at__gt": now,
            f"{via}expires_at__lte": now + expiring_soon_window(),
        }
    )


def clean_search(query: str) -> str:
    """What a service account search looks for ("" for everything)."""
    return query.replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]


class ServiceAccountQuerySet(models.QuerySet["ServiceAccount"]):
    def for_org(self, org: Organization) -> ServiceAccountQuerySet:
        return self.filter(org=org)

    def search(self, query: str) -> ServiceAccountQuerySet:
        """Name or login contains ``query``, compared the way names are (case-folded)."""
        query = clean_search(query)
        if not query:
            return self
        return self.filter(
            models.Q(name_key__contains=name_key(query)) | models.Q(login__icontains=query)
        )

    def listing(
        self,
        *,
        query: str = "",
        disabled_only: bool = False,
        expired_only: bool = False,
        expiring_only: bool = False,
    ) -> ServiceAccountQuerySet:
        """The list behind the page, in name order; ``accounts.listing.ListingQuery`` is
        the same list in hand-written SQL for ``/api/serviceaccounts/search`` (a contract
        test holds the two equal).

        The filters are EXISTS tests and ``token_count`` is a column (see its comment), so
        ``ORDER BY`` walks the (org, name) index and ``LIMIT`` stops it: a page costs the
        same however many accounts the org has, and however many tokens they hold.
        """
        now = timezone.now()
        accounts = self.search(query)
        if disabled_only:
            accounts = accounts.filter(is_disabled=True)
        if expired_only:
            accounts = accounts.filter(models.Exists(_tokens_of_account().filter(_expired(now))))
        if expiring_only:
            accounts = accounts.filter(
                models.Exists(_tokens_of_account().filter(expiring_tokens(now)))
            )
        # (org, name_key) is unique: its index gives the order, no sort of the whole org.
        return accounts.order_by("org_id", "name_key")

    def never_expiring_tokens(self) -> models.QuerySet:
        """One row per working token without an expiry (the "Never expire" list), as dicts:
        the account's ``pk`` and ``name``, and the token's ``token_id``, ``token_name``,
        ``token_created_at`` and ``token_last_used_at``."""
        return (
            self.filter(tokens__is_revoked=False, tokens__expires_at__isnull=True)
            .order_by("name_key", "pk", "tokens__created_at", "tokens__pk")
            .values(
                "pk",
                "name",
                token_id=models.F("tokens__pk"),
                token_name=models.F("tokens__name"),
                token_created_at=models.F("tokens__created_at"),
                token_last_used_at=models.F("tokens__last_used_at"),
            )
        )

    def with_expiry_stats(self, now: datetime) -> ServiceAccountQuerySet:
        """The list page's badges: ``expired_token_count`` and ``next_expiry`` (when the
        account's first expiring-soon token stops working; None when none is)."""
        tokens = _tokens_of_account()
        return self.annotate(
            expired_token_count=_count(tokens.filter(_expired(now))),
            next_expiry=models.Subquery(
                tokens.filter(expiring_tokens(now)).order_by("expires_at").values("expires_at")[:1]
            ),
        )


def _expired(now: datetime) -> models.Q:
    return models.Q(expires_at__lte=now)


def _tokens_of_account() -> models.QuerySet:
    """The tokens of the outer query's service account. Reached through the reverse relation
    (``tokens``, of tokens.ServiceAccountToken) so this app imports nothing from the tokens
    app."""
    tokens = ServiceAccount._meta.get_field("tokens").related_model
    assert not isinstance(tokens, str)
    return tokens._default_manager.filter(service_account=models.OuterRef("pk")).order_by()


def _count(rows: models.QuerySet) -> models.Subquery:
    """``(SELECT COUNT(*) FROM …)``: a correlated count (0, never NULL, when nothing matches)."""
    counted = rows.annotate(n=models.Func(models.Value(1), function="COUNT")).values("n")
    return models.Subquery(counted, output_field=models.IntegerField())


class ServiceAccount(NamedModel):
    """A machine identity of one org. It has tokens, never a password, and cannot sign in."""

    LOGIN_MAX_LENGTH = 255

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    login = models.CharField(max_length=LOGIN_MAX_LENGTH, unique=True, editable=False)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    is_disabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How many tokens it has, kept exact by database triggers on the tokens table (migration
    # tokens 0005): every insert, delete or move of a token row, whoever makes it (services,
    # bulk inserts of the key migration, cascades, raw queries), in the writing transaction.
    # A COUNT(*) per listed account walked every token of the page (20 accounts with 1 000
    # tokens each made a page five times dearer); an index cannot make a count O(1), and a
    # counter kept by Python code would be wrong after any write that skips it.
    token_count = models.PositiveIntegerField(default=0, editable=False)

    DATABASE_KEPT = ("token_count",)

    objects = ServiceAccountQuerySet.as_manager()
    API_FIELDS = ("id", "name", "login", "org_id", "is_disabled", "role")  # see list_item()

    class Meta:
        ordering = ["name_key", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name_key"], name="accounts_sa_name_unique"),
        ]

    def to_api(self) -> dict:
        """The object Grafana returns in search results."""
        values = {name: getattr(self, name) for name in self.API_FIELDS}
        return list_item(values | {"token_count": self.token_count})

    def to_api_profile(self) -> dict:
        """The object Grafana returns for a single service account."""
        return {
            **self.to_api(),
            "createdAt": isoformat(self.created_at),
            "updatedAt": isoformat(self.updated_at),
            "teams": self.team_names(),
        }

    def team_names(self) -> list[str]:
        """Its teams' names, Everyone first."""
        from accounts.teams.models import teams_of  # the teams module imports this one

        return list(teams_of(self).values_list("name", flat=True))


def list_item(values: Mapping[str, Any]) -> dict:
    """A service account in search results, from its ``API_FIELDS`` and ``token_count``:
    the search reads them as values, for a page of 50 rows costs more in building model
    instances than in its queries."""
    return {
        "id": values["id"],
        "name": values["name"],
        "login": values["login"],
        "orgId": values["org_id"],
        "isDisabled": values["is_disabled"],
        "role": values["role"],
        "tokens": values["token_count"],
        "avatarUrl": avatar_url(),
    }


AVATAR_PATH = "icons/service-account.svg"


@cache
def avatar_url() -> str:
    """Where the service accounts' avatar is served. Resolving a hashed static name costs
    about as much as the rest of a search result's row, and it never changes while the
    process runs."""
    return static(AVATAR_PATH)


def isoformat(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as Grafana writes times."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Teams, permissions, the audit log, invites and password-reset requests live in their own
# modules (DESIGN §10); importing them here registers them with the app and keeps
# ``accounts.models`` the one place to import models from.
from accounts.audit.models import AuditEvent, AuditTally  # noqa: E402
from accounts.invites.models import Invite  # noqa: E402
from accounts.passwords.models import ResetRequest  # noqa: E402
from accounts.teams.models import (  # noqa: E402
    Permission,
    ServerGrant,
    ServiceAccountPermission,
    Team,
    TeamMember,
    TeamPermission,
)

__all__ = [
    "AuditEvent",
    "AuditTally",
    "Invite",
    "Membership",
    "Organization",
    "Permission",
    "ResetRequest",
    "ServerGrant",
    "ServiceAccount",
    "ServiceAccountPermission",
    "Team",
    "TeamMember",
    "TeamPermission",
    "User",
]
