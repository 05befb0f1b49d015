"""The service-account page's Teams, Permissions and Effective permissions sections (Wavefront's
Groups and Permissions): what they show, each read only when its template asks for it.

Each section is its own template (``SECTIONS``), included by the account's page and rendered
alone when it refreshes itself (``hx-get`` of the page with its id as the htmx target).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.urls import reverse

from accounts.access import Identity, effective_permission_sources, has_permission
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.teams.catalogue import TEAMS_WRITE
from accounts.teams.checklist import ChecklistGroup, permission_checklist
from accounts.teams.models import Team, catalogue, teams_of
from accounts.verification import nginx_snippet, verify_query

SECTIONS = {
    "sa-teams": "accounts/_sa_teams.html",
    "sa-permissions": "accounts/_sa_permissions.html",
    "sa-effective": "accounts/_sa_effective.html",
    "sa-usage": "accounts/_sa_usage.html",
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where an effective permission comes from, as the page says it."""

    label: str
    url: str = ""  # the team's page, for those who may open it


@dataclass(frozen=True, slots=True)
class Effective:
    name: str
    description: str
    sources: list[Source]


class ServiceAccountAccess:
    def __init__(self, identity: Identity, account: ServiceAccount) -> None:
        self.identity = identity
        self.account = account

    @cached_property
    def manages_teams(self) -> bool:
        return has_permission(self.identity, TEAMS_WRITE)

    @cached_property
    def teams(self) -> list[Team]:
        """Everyone first, then by name."""
        return list(teams_of(self.account))

    @cached_property
    def joinable_teams(self) -> list[Team]:
        return list(
            Team.objects.for_org(self.identity.org)
            .filter(is_everyone=False)
            .exclude(members__service_account=self.account)
            .order_by("name_key", "pk")
        )

    @cached_property
    def checklist(self) -> list[ChecklistGroup]:
        individual = self.account.permission_grants.values_list("permission", flat=True)
        return permission_checklist(self.identity, individual)

    @cached_property
    def effective(self) -> list[Effective]:
        descriptions = {name: text for name, text, _ in catalogue(self.identity.org)}
        team_ids = {team.name: team.pk for team in self.teams}
        return [
            Effective(
                name, descriptions.get(name, ""), [self._source(s, team_ids) for s in sources]
            )
            for name, sources in effective_permission_sources(self.account)
        ]

    @cached_property
    def verify_query(self) -> str:
        """For the "Use this account's tokens" panel: its org and effective permissions."""
        return verify_query(self.account.org_id, (row.name for row in self.effective))

    @cached_property
    def nginx_snippet(self) -> str:
        return nginx_snippet(self.verify_query)

    def _source(self, source: str, team_ids: dict[str, int]) -> Source:
        kind, _, name = source.partition(":")
        if kind == "role":
            return Source(f"Role: {Role(name).label}")
        if kind == "team":
            link = self.manages_teams and name in team_ids
            return Source(f"Team: {name}", reverse("team", args=[team_ids[name]]) if link else "")
        return Source("Individual")
