"""Teams, their members, and who holds which permission (DESIGN §11).

Grants name their permission by string: a built-in name (``catalogue.BUILTIN_PERMISSIONS``)
or a custom ``Permission`` of the same org. Built-ins live in code so that every org always has
them; the services in ``accounts.teams.services`` keep custom grants in step with the catalogue.
Every org has one built-in team, Everyone, whose members are implicit: no ``TeamMember`` rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache

from django.db import connection, models
from django.db.models import Count, Q

from accounts.models import (
    SEARCH_MAX_LENGTH,
    Membership,
    NamedModel,
    Organization,
    ServiceAccount,
    User,
    isoformat,
)
from accounts.names import is_utf8, name_key
from accounts.teams.catalogue import (
    BUILTIN_PERMISSIONS,
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    SERVER_PERMISSIONS,
)

EVERYONE = "Everyone"


def storable(name: str) -> bool:
    """Whether a text column can hold ``name``: no NUL, no lone surrogate (the database
    fails on those, even when only asked whether they exist)."""
    return "\x00" not in name and is_utf8(name)


class PermissionQuerySet(models.QuerySet["Permission"]):
    def named(self, org: Organization, name: str) -> PermissionQuerySet:
        """``org``'s custom permission called ``name`` (none when it is not ``storable``)."""
        if not storable(name):
            return self.none()
        return self.filter(org=org, name=name)


class Permission(models.Model):
    """A custom permission an org defines for its own APIs (built-ins are not stored)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PermissionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="accounts_permission_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamQuerySet(models.QuerySet["Team"]):
    def for_org(self, org: Organization) -> TeamQuerySet:
        return self.filter(org=org)

    def search(self, query: str) -> TeamQuerySet:
        """Name contains ``query``, compared the way names are (case-folded)."""
        query = query.replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
        return self.filter(name_key__contains=name_key(query)) if query else self

    def named(self, name: str) -> TeamQuerySet:
        """The team with exactly this name (ignoring case), as Grafana's ``?name=`` finds it."""
        return self.filter(name_key=name_key(name.replace("\x00", "")))

    def listing(self, *, query: str = "") -> TeamQuerySet:
        """The list behind ``/api/teams/search`` and the Teams page: with member counts and
        grants, in name order (Everyone included)."""
        return (
            self.search(query)
            .annotate(explicit_member_count=Count("members", distinct=True))
            .prefetch_related("grants")
            .order_by("name_key", "pk")
        )

    def create_everyone(self, org: Organization) -> Team:
        """The org's built-in team; every new org gets one (``org_create``)."""
        return self.create(org=org, name=EVERYONE, is_everyone=True)


class Team(NamedModel):
    """A group of users and service accounts of one org whose permissions they all hold."""

    EMAIL_MAX_LENGTH = 254

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(max_length=EMAIL_MAX_LENGTH, blank=True)
    is_everyone = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name_key", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name_key"], name="accounts_team_name_unique"),
            models.UniqueConstraint(
                fields=["org"], condition=Q(is_everyone=True), name="accounts_team_one_everyone"
            ),
        ]

    def member_count(self) -> int:
        """Everyone counts every user and service account of the org."""
        if self.is_everyone:
            users = Membership.objects.filter(org_id=self.org_id).count()
            return users + ServiceAccount.objects.filter(org_id=self.org_id).count()
        count = getattr(self, "explicit_member_count", None)
        return count if count is not None else self.members.count()

    def permission_names(self) -> list[str]:
        """Sorted; uses prefetched ``grants`` when the queryset has them."""
        return sorted(grant.permission for grant in self.grants.all())

    def to_api(self) -> dict:
        return {
            "id": self.pk,
            "orgId": self.org_id,
            "name": self.name,
            "email": self.email,
            "memberCount": self.member_count(),
            "permissions": self.permission_names(),
            "builtIn": self.is_everyone,
            "created": isoformat(self.created_at),
            "updated": isoformat(self.updated_at),
        }


class TeamMember(models.Model):
    """An explicit member of a team: a user or a service account of the team's org."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="team_memberships"
    )
    service_account = models.ForeignKey(
        ServiceAccount,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="team_memberships",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, service_account__isnull=True)
                | Q(user__isnull=True, service_account__isnull=False),
                name="accounts_teammember_one_principal",
            ),
            models.UniqueConstraint(
                fields=["team", "user"],
                condition=Q(user__isnull=False),
                name="accounts_teammember_user_unique",
            ),
            models.UniqueConstraint(
                fields=["team", "service_account"],
                condition=Q(service_account__isnull=False),
                name="accounts_teammember_sa_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.service_account} in {self.team}"


class Grant(models.Model):
    """A permission, by name, held by what the subclass's ``HOLDER`` foreign key points at."""

    HOLDER = ""
    permission = models.CharField(max_length=NAME_MAX_LENGTH)

    class Meta:
        abstract = True
        ordering = ["permission"]

    def __str__(self) -> str:
        return f"{getattr(self, self.HOLDER)}: {self.permission}"


class TeamPermission(Grant):
    """A team holds a permission; so does every member (for Everyone: the whole org)."""

    HOLDER = "team"
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="grants")

    class Meta(Grant.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["team", "permission"], name="accounts_teampermission_unique"
            ),
        ]


class ServiceAccountPermission(Grant):
    """A permission held by one service account individually."""

    HOLDER = "service_account"
    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="permission_grants"
    )

    class Meta(Grant.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["service_account", "permission"], name="accounts_sapermission_unique"
            ),
        ]


# --- Reads shared by access checks, the API and the pages ---------------------------------


def permission_holder_counts(org: Organization, name: str) -> tuple[int, int]:
    """How many teams and service accounts of ``org`` hold ``name`` (for a delete dialog)."""
    teams = TeamPermission.objects.filter(team__org=org, permission=name).count()
    accounts = ServiceAccountPermission.objects.filter(
        service_account__org=org, permission=name
    ).count()
    return teams, accounts


def catalogue(org: Organization) -> list[tuple[str, str, bool]]:
    """(name, description, built-in) of every permission in ``org``, built-ins first."""
    custom = Permission.objects.filter(org=org).values_list("name", "description")
    builtin = [(name, text, True) for name, text in BUILTIN_PERMISSIONS.items()]
    return [*builtin, *((name, text, False) for name, text in custom)]


def catalogue_names(org: Organization | int) -> list[str]:
    """Every permission that exists in ``org``: built-ins first, then custom ones by name.

    Hand-written like ``_held_sql``: forward auth reads it on every request of an Admin
    token, and compiling the ORM's query costs several times running it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_catalogue_sql(), [org.pk if isinstance(org, Organization) else org])
        return [*BUILTIN_PERMISSIONS, *(name for (name,) in cursor.fetchall())]


@cache
def _catalogue_sql() -> str:
    quote = connection.ops.quote_name
    columns = []
    for name in ("name", "org"):
        field = Permission._meta.get_field(name)
        assert isinstance(field, models.Field)
        columns.append(quote(field.column))
    name, org = columns
    table = quote(Permission._meta.db_table)
    return f"SELECT {name} FROM {table} WHERE {org} = %s ORDER BY {name}"  # noqa: S608


@cache
def _held_sql(principal: str) -> str:
    """One statement: the permissions a user (or service account) holds through grants.

    Hand-written because the verify and introspect endpoints run it per request, and the ORM
    compiles a union with a correlated subquery far slower than the database runs it.
    """
    quote = connection.ops.quote_name
    team, member, team_grant = (
        quote(model._meta.db_table) for model in (Team, TeamMember, TeamPermission)
    )
    field = TeamMember._meta.get_field(principal)
    assert isinstance(field, models.ForeignKey)
    column = quote(field.column)
    teams = (
        f"SELECT g.permission FROM {team_grant} g JOIN {team} t ON t.id = g.team_id "  # noqa: S608
        "WHERE t.org_id = %s AND (t.is_everyone = %s OR EXISTS ("
        f"SELECT 1 FROM {member} m WHERE m.team_id = t.id AND m.{column} = %s))"
    )
    if principal == "user":
        return teams
    individual = quote(ServiceAccountPermission._meta.db_table)
    return f"SELECT permission FROM {individual} WHERE service_account_id = %s UNION {teams}"  # noqa: S608


def held_permissions(
    *, org_id: int, user_id: int | None = None, service_account_id: int | None = None
) -> frozenset[str]:
    """What a principal holds through its individual grants, its teams and Everyone.

    Not the whole answer for an Admin (who holds everything): ``accounts.access`` decides.
    """
    if service_account_id is not None:
        sql, params = _held_sql("service_account"), [service_account_id, org_id, True]
        params.append(service_account_id)
    elif user_id is not None:
        sql, params = _held_sql("user"), [org_id, True, user_id]
    else:
        raise ValueError("held_permissions needs a user or a service account")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return frozenset(row[0] for row in cursor.fetchall())


def permission_sources(account: ServiceAccount) -> dict[str, list[str]]:
    """Each permission an account holds through grants, with where it comes from:
    ``individual``, then ``team:<name>`` (Everyone first)."""
    sources: dict[str, list[str]] = defaultdict(list)
    for name in account.permission_grants.values_list("permission", flat=True):
        sources[name].append("individual")
    grants = (
        TeamPermission.objects.filter(team__in=teams_of(account))
        .order_by("-team__is_everyone", "team__name_key", "permission")
        .values_list("permission", "team__name")
    )
    for name, team_name in grants:
        sources[name].append(f"team:{team_name}")
    return dict(sources)


def teams_of(principal: ServiceAccount | User, org: Organization | None = None) -> TeamQuerySet:
    """The teams a service account (or a user, in ``org``) belongs to, Everyone first."""
    if isinstance(principal, ServiceAccount):
        org_id, memberships = principal.org_id, TeamMember.objects.filter(service_account=principal)
    else:
        if org is None:
            raise ValueError("a user's teams depend on the org")
        org_id, memberships = org.pk, TeamMember.objects.filter(user=principal)
    return Team.objects.filter(
        Q(is_everyone=True) | Q(pk__in=memberships.values("team_id")), org_id=org_id
    ).order_by("-is_everyone", "name_key", "pk")


def team_members(team: Team) -> list:
    """Users first, then service accounts; for Everyone, the whole org."""
    if team.is_everyone:
        users = Membership.objects.filter(org_id=team.org_id).select_related("user")
        return [
            *users.order_by("user__username", "pk"),
            *ServiceAccount.objects.filter(org_id=team.org_id).order_by("name_key", "pk"),
        ]
    members = team.members.select_related("user", "service_account")
    return [
        *members.filter(user__isnull=False).order_by("user__username", "pk"),
        *members.filter(service_account__isnull=False).order_by("service_account__name_key", "pk"),
    ]


def team_names_by_account(accounts: Iterable[ServiceAccount]) -> dict[int, list[str]]:
    """For a page of accounts: each account's team names, Everyone first, in one query (the
    orgs' Everyone teams, keyed by org, and the accounts' memberships, keyed by account)."""
    accounts = list(accounts)
    if not accounts:
        return {}
    everyone = (
        Team.objects.filter(org_id__in={account.org_id for account in accounts}, is_everyone=True)
        .order_by()
        .values_list("org_id", "name", "is_everyone", "name_key")
    )
    joined = (
        TeamMember.objects.filter(service_account__in=[account.pk for account in accounts])
        .order_by()
        .values_list("service_account_id", "team__name", "team__is_everyone", "team__name_key")
    )
    # (org or account id, team name, is Everyone, name key)
    rows = sorted(everyone.union(joined, all=True), key=lambda row: row[3])
    everyone_names = {key: name for key, name, is_everyone, _ in rows if is_everyone}
    names: dict[int, list[str]] = {
        account.pk: [everyone_names[account.org_id]] if account.org_id in everyone_names else []
        for account in accounts
    }
    for key, name, is_everyone, _ in rows:
        if not is_everyone:
            names[key].append(name)
    return names


def with_team_names(accounts: Iterable[ServiceAccount]) -> None:
    """Set ``listed_teams`` (its team names, Everyone first) on each account of a page."""
    accounts = list(accounts)
    names = team_names_by_account(accounts)
    for account in accounts:
        account.listed_teams = names[account.pk]  # type: ignore[attr-defined]


class ServerGrant(models.Model):
    """A server-level permission (``catalogue.SERVER_PERMISSIONS``) that a server admin gave
    to one service account, of any org: ``tokens:report-leak`` for a secret scanner."""

    permission = models.CharField(
        max_length=NAME_MAX_LENGTH,
        unique=True,  # one account each
        choices=[(name, name) for name in SERVER_PERMISSIONS],
    )
    service_account = models.ForeignKey(ServiceAccount, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.permission}: service account {self.service_account_id}"

    def to_api(self) -> dict:
        """Read with ``select_related("service_account__org")``."""
        account = self.service_account
        return {
            "permission": self.permission,
            "serviceAccountId": account.pk,
            "serviceAccountName": account.name,
            "serviceAccountLogin": account.login,
            "orgId": account.org_id,
            "orgName": account.org.name,
            "since": isoformat(self.created_at),
        }
