"""Configuration → Teams: the list, a new team, and a team's page (settings, members with a
live-search picker, the permissions checklist), with the actions of ``accounts.ui``'s pattern.

Events: ``teamsChanged`` (a team created, renamed or deleted: the list refreshes) and
``teamMembersChanged`` (the members table, the picker and a service account's Teams section
refresh). The checklist answers with ``permissionsChanged`` (``accounts.teams.checklist``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from accounts.access import (
    READ_TEAMS,
    AppRequest,
    Identity,
    get_member,
    get_or_404,
    get_service_account,
    get_team,
    org_view,
)
from accounts.errors import Conflict, NotFound, Refusal, message_of
from accounts.models import Membership, ServiceAccount, User
from accounts.teams.catalogue import TEAMS_WRITE
from accounts.teams.checklist import (
    ChecklistGroup,
    checklist_answer,
    permission_checklist,
    save_checklist,
)
from accounts.teams.forms import TeamForm
from accounts.teams.models import SEARCH_MAX_LENGTH, Team, team_members
from accounts.teams.services import (
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
    team_permissions_set,
    team_update,
)
from accounts.ui import (
    action_done,
    confirm,
    htmx_partial,
    next_url_leaving,
    page_or_partial,
    safe_next_url,
)

LIST_TEMPLATE = "accounts/team_list.html"
TEAM_TEMPLATE = "accounts/team_detail.html"
PER_PAGE = 50
CANDIDATES_SHOWN = 8  # per kind: the picker is for finding someone, not for browsing
TEAM_PARTIALS = {
    "team-members": "members",
    "member-candidates": "candidates",
    "team-permissions": "permissions",
}
TEAMS_CHANGED = "teamsChanged"
TEAM_MEMBERS_CHANGED = "teamMembersChanged"


@org_view(READ_TEAMS)
@require_GET
def team_list(request: AppRequest) -> HttpResponse:
    context = {"nav_active": "teams", **_listing_context(request.identity, request.GET)}
    return page_or_partial(request, LIST_TEMPLATE, context, {"team-results": "results"})


def _listing_context(identity: Identity, params: QueryDict) -> dict[str, Any]:
    query = params.get("query", "").strip()[:SEARCH_MAX_LENGTH]
    teams = Team.objects.for_org(identity.org).listing(query=query)
    return {"page": Paginator(teams, PER_PAGE).get_page(params.get("page")), "query": query}


@org_view(TEAMS_WRITE)
@require_http_methods(["GET", "POST"])
def team_create_view(request: AppRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = team_create(
                identity=request.identity,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
        except (ValidationError, Conflict) as exc:
            form.add_error("name", message_of(exc))
        else:
            messages.success(request, f"Team '{team.name}' created.")
            return redirect("team", team_id=team.pk)
    return render(request, "accounts/team_create.html", {"nav_active": "teams", "form": form})


@dataclass(frozen=True, slots=True)
class Candidate:
    """Someone the picker offers: posted as ``field`` = ``pk`` to add them."""

    field: str  # "user" or "service_account"
    pk: int
    login: str
    name: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Candidates:
    """Users and service accounts of the org not yet in the team, matching the search."""

    groups: list[tuple[str, list[Candidate]]]  # ("Users", …), ("Service accounts", …)
    more: bool  # some matches are not shown: search for them


@dataclass(frozen=True, slots=True)
class MemberRow:
    name: str
    kind: str
    login: str
    email: str
    remove_url: str
    url: str = ""  # a service account's page


class TeamPage:
    """What the team page shows, each part read only when the template asks for it, so that
    an htmx refresh of one part costs only that part's queries."""

    def __init__(self, identity: Identity, team: Team, member_query: str = "") -> None:
        self.identity = identity
        self.team = team
        self.member_query = member_query.strip()[:SEARCH_MAX_LENGTH]

    @cached_property
    def members(self) -> list[MemberRow]:
        """Explicit members, users first (Everyone's are implicit: none)."""
        if self.team.is_everyone:
            return []
        rows = []
        for member in team_members(self.team):
            if member.user is not None:
                user = member.user
                remove = reverse("team-member-user-remove", args=[self.team.pk, user.pk])
                rows.append(
                    MemberRow(user.name or user.username, "User", user.username, user.email, remove)
                )
            else:
                account = member.service_account
                remove = reverse("team-member-sa-remove", args=[self.team.pk, account.pk])
                url = reverse("serviceaccount", args=[account.pk])
                rows.append(
                    MemberRow(account.name, "Service account", account.login, "", remove, url)
                )
        return rows

    @cached_property
    def everyone_counts(self) -> tuple[int, int]:
        """Users and service accounts of the org: Everyone's implicit members."""
        org = self.identity.org
        return (
            Membership.objects.filter(org=org).count(),
            ServiceAccount.objects.for_org(org).count(),
        )

    @cached_property
    def candidates(self) -> Candidates:
        memberships = (
            Membership.objects.filter(org=self.identity.org)
            .search(self.member_query)
            .exclude(user__team_memberships__team=self.team)
            .select_related("user")
            .order_by("user__username", "pk")[: CANDIDATES_SHOWN + 1]
        )
        users = [
            Candidate("user", m.user.pk, m.user.username, m.user.name, m.user.email)
            for m in memberships
        ]
        accounts = [
            Candidate("service_account", account.pk, account.login, account.name)
            for account in ServiceAccount.objects.for_org(self.identity.org)
            .search(self.member_query)
            .exclude(team_memberships__team=self.team)
            .order_by("name_key", "pk")[: CANDIDATES_SHOWN + 1]
        ]
        more = len(users) > CANDIDATES_SHOWN or len(accounts) > CANDIDATES_SHOWN
        groups = [
            ("Users", users[:CANDIDATES_SHOWN]),
            ("Service accounts", accounts[:CANDIDATES_SHOWN]),
        ]
        return Candidates([group for group in groups if group[1]], more)

    @cached_property
    def checklist(self) -> list[ChecklistGroup]:
        return permission_checklist(self.identity, self.team.permission_names())


def _team_context(request: AppRequest, team: Team, **extra: Any) -> dict[str, Any]:
    # The picker's search comes back with its Add buttons' posts too.
    member_query = request.POST.get("member_query") or request.GET.get("member_query", "")
    return {
        "nav_active": "teams",
        "team": team,
        "team_url": reverse("team", args=[team.pk]),
        "team_page": TeamPage(request.identity, team, member_query),
        "settings_form": TeamForm(initial={"name": team.name, "email": team.email}),
        **extra,
    }


@org_view(READ_TEAMS)
@require_GET
def team_detail(request: AppRequest, team_id: str) -> HttpResponse:
    team = get_team(request.identity, team_id)
    return page_or_partial(request, TEAM_TEMPLATE, _team_context(request, team), TEAM_PARTIALS)


@org_view(TEAMS_WRITE)
@require_POST
def team_settings(request: AppRequest, team_id: str) -> HttpResponse:
    """Rename the team and set its e-mail; the header and the tab title follow a rename."""
    team = get_team(request.identity, team_id)
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = team_update(
                identity=request.identity,
                team=team,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
        except (ValidationError, Conflict) as exc:
            form.add_error("name", message_of(exc))
        except NotFound:
            raise
        except Refusal as exc:  # Everyone
            form.add_error(None, exc.message)
    if form.errors:
        team.refresh_from_db()
    elif not htmx_partial(request):
        messages.success(request, "Team settings saved.")
        return redirect("team", team_id=team.pk)
    context = _team_context(request, team, settings_form=form, settings_saved=not form.errors)
    if htmx_partial(request):
        response = render(request, f"{TEAM_TEMPLATE}#settings", context)
        return response if form.errors else trigger_client_event(response, TEAMS_CHANGED)
    return render(request, TEAM_TEMPLATE, context)


@org_view(TEAMS_WRITE)
@require_http_methods(["GET", "POST"])
def team_delete_view(request: AppRequest, team_id: str) -> HttpResponse:
    team = get_team(request.identity, team_id)
    next_url, came_from = next_url_leaving(
        request, reverse("team", args=[team.pk]), reverse("teams")
    )
    options: dict[str, Any] = {
        "next_url": next_url,
        "cancel_url": came_from,
        "danger": True,
        "nav_active": "teams",
        "team": team,
        "member_count": team.member_count(),
    }
    if request.method == "GET":
        return confirm(request, **options)
    try:
        team_delete(identity=request.identity, team=team)
    except NotFound:
        raise
    except Refusal as exc:  # Everyone
        return confirm(request, error=exc.message, **options)
    messages.success(request, f"Team '{team.name}' deleted.")
    return action_done(request, event=TEAMS_CHANGED, next_url=next_url)


# --- Members -------------------------------------------------------------------------------


@org_view(TEAMS_WRITE)
@require_POST
def team_member_add_view(request: AppRequest, team_id: str) -> HttpResponse:
    """Add the user (``user``) or service account (``service_account``) the picker offered."""
    identity = request.identity
    team = get_team(identity, team_id)
    user: User | None = None
    account: ServiceAccount | None = None
    if request.POST.get("user"):
        user = get_member(identity, request.POST["user"]).user
        name = user.username
    else:
        account = get_service_account(identity, request.POST.get("service_account"))
        name = account.name
    try:
        team_member_add(identity=identity, team=team, user=user, service_account=account)
    except NotFound:
        raise
    except Refusal as exc:  # already a member, Everyone, or the grant ceiling
        context = _team_context(request, team, member_error=exc.message)
        if htmx_partial(request):
            response = render(request, f"{TEAM_TEMPLATE}#candidates", context)
            return reswap(retarget(response, "#member-candidates"), "outerHTML")
        return render(request, TEAM_TEMPLATE, context)
    messages.success(request, f"Added '{name}' to the team '{team.name}'.")
    next_url = safe_next_url(request, reverse("team", args=[team.pk]))
    return action_done(request, event=TEAM_MEMBERS_CHANGED, next_url=next_url)


@org_view(TEAMS_WRITE)
@require_http_methods(["GET", "POST"])
def team_member_user_remove(request: AppRequest, team_id: str, user_id: str) -> HttpResponse:
    team = get_team(request.identity, team_id)
    member = get_or_404(team.members.select_related("user"), user_id, lookup="user_id")
    assert member.user is not None
    return _remove_member(request, team, member.user.username, user=member.user)


@org_view(TEAMS_WRITE)
@require_http_methods(["GET", "POST"])
def team_member_sa_remove(request: AppRequest, team_id: str, sa_id: str) -> HttpResponse:
    team = get_team(request.identity, team_id)
    member = get_or_404(
        team.members.select_related("service_account"), sa_id, lookup="service_account_id"
    )
    assert member.service_account is not None
    account = member.service_account
    return _remove_member(request, team, account.name, service_account=account)


def _remove_member(
    request: AppRequest,
    team: Team,
    name: str,
    *,
    user: User | None = None,
    service_account: ServiceAccount | None = None,
) -> HttpResponse:
    """Confirm, then take the member out (from the team page, or from an account's page)."""
    next_url = safe_next_url(request, reverse("team", args=[team.pk]))
    if request.method == "GET":
        return confirm(request, next_url=next_url, nav_active="teams", team=team, name=name)
    team_member_remove(
        identity=request.identity, team=team, user=user, service_account=service_account
    )
    messages.success(request, f"Removed '{name}' from the team '{team.name}'.")
    return action_done(request, event=TEAM_MEMBERS_CHANGED, next_url=next_url)


# --- Permissions ---------------------------------------------------------------------------


@org_view(TEAMS_WRITE)
@require_POST
def team_permissions(request: AppRequest, team_id: str) -> HttpResponse:
    """Replace the team's permissions with the checked ones (Everyone's too)."""
    team = get_team(request.identity, team_id)
    error = save_checklist(
        request,
        lambda names: team_permissions_set(identity=request.identity, team=team, permissions=names),
    )
    return checklist_answer(
        request,
        error=error,
        page=TEAM_TEMPLATE,
        partial=f"{TEAM_TEMPLATE}#permissions",
        context=_team_context(request, team),
        next_url=reverse("team", args=[team.pk]),
    )
