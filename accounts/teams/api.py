"""Grafana's ``/api/teams…`` endpoints, and Keyhouse's own permission endpoints (DESIGN §11)."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from accounts.access import (
    READ_CATALOGUE,
    READ_TEAMS,
    AppRequest,
    effective_permission_sources,
    get_member,
    get_service_account,
    get_team,
)
from accounts.api_base import ApiError, api_view, field, paged, parse_json_object
from accounts.models import Membership, ServiceAccount, User
from accounts.teams.catalogue import SERVICEACCOUNTS_READ, SERVICEACCOUNTS_WRITE, TEAMS_WRITE
from accounts.teams.models import Team, TeamMember, catalogue, team_members
from accounts.teams.services import (
    permission_create,
    permission_delete,
    service_account_permissions_set,
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
    team_permissions_set,
    team_update,
)


def _permissions_field(data: dict[str, Any]) -> list[str]:
    names = field(data, "permissions", list, required=True)
    if not all(isinstance(name, str) and "\x00" not in name for name in names):
        raise ApiError(400, "Bad request data: permissions must be a list of permission names")
    return [str(name) for name in names]


@api_view({"POST": TEAMS_WRITE})
def teams(request: AppRequest) -> JsonResponse:
    data = parse_json_object(request)
    team = team_create(
        identity=request.identity,
        name=field(data, "name", str, required=True),
        email=field(data, "email", str, default=""),
    )
    return JsonResponse({"message": "Team created", "teamId": team.pk})


@api_view({"GET": READ_TEAMS})
def team_search(request: AppRequest) -> JsonResponse:
    """``query`` matches part of the name, ``name`` the whole name (both ignoring case)."""
    listed = Team.objects.for_org(request.identity.org).listing(query=request.GET.get("query", ""))
    if "name" in request.GET:
        listed = listed.named(request.GET["name"])
    envelope, rows = paged(request, listed)
    return JsonResponse({**envelope, "teams": [team.to_api() for team in rows]})


@api_view({"GET": READ_TEAMS, "PUT": TEAMS_WRITE, "DELETE": TEAMS_WRITE})
def team_detail(request: AppRequest, team_id: str) -> JsonResponse:
    team = get_team(request.identity, team_id)
    if request.method == "DELETE":
        team_delete(identity=request.identity, team=team)
        return JsonResponse({"message": "Team deleted"})
    if request.method == "PUT":
        data = parse_json_object(request)
        team_update(
            identity=request.identity,
            team=team,
            name=field(data, "name", str, required=True),
            email=field(data, "email", str, default=""),
        )
        return JsonResponse({"message": "Team updated"})
    team = Team.objects.filter(pk=team.pk).listing().get()
    return JsonResponse(team.to_api())


def member_to_api(team: Team, member: TeamMember | Membership | ServiceAccount) -> dict:
    """A team member in Grafana's shape; service accounts carry ``serviceAccountId`` instead
    of ``userId`` (Keyhouse keeps users and service accounts apart)."""
    principal: User | ServiceAccount | None
    if isinstance(member, TeamMember):
        principal = member.user or member.service_account
    else:
        principal = member.user if isinstance(member, Membership) else member
    assert principal is not None  # a TeamMember row has exactly one (a check constraint)
    base = {"orgId": team.org_id, "teamId": team.pk}
    if isinstance(principal, ServiceAccount):
        return {
            **base,
            "userId": None,
            "serviceAccountId": principal.pk,
            "kind": "serviceAccount",
            "login": principal.login,
            "email": "",
            "name": principal.name,
        }
    return {
        **base,
        "userId": principal.pk,
        "serviceAccountId": None,
        "kind": "user",
        "login": principal.username,
        "email": principal.email,
        "name": principal.name,
    }


@api_view({"GET": READ_TEAMS, "POST": TEAMS_WRITE})
def members(request: AppRequest, team_id: str) -> JsonResponse:
    team = get_team(request.identity, team_id)
    if request.method == "GET":
        return JsonResponse([member_to_api(team, m) for m in team_members(team)], safe=False)
    data = parse_json_object(request)
    user_id = field(data, "userId", int)
    account_id = field(data, "serviceAccountId", int)
    if (user_id is None) == (account_id is None):
        raise ApiError(400, "Bad request data: give either userId or serviceAccountId")
    if user_id is not None:
        user = get_member(request.identity, user_id).user
        team_member_add(identity=request.identity, team=team, user=user)
    else:
        account = get_service_account(request.identity, account_id)
        team_member_add(identity=request.identity, team=team, service_account=account)
    return JsonResponse({"message": "Member added to Team"})


@api_view({"DELETE": TEAMS_WRITE})
def member_user(request: AppRequest, team_id: str, user_id: str) -> JsonResponse:
    team = get_team(request.identity, team_id)
    user = get_member(request.identity, user_id).user
    team_member_remove(identity=request.identity, team=team, user=user)
    return JsonResponse({"message": "Team Member removed"})


@api_view({"DELETE": TEAMS_WRITE})
def member_service_account(request: AppRequest, team_id: str, sa_id: str) -> JsonResponse:
    team = get_team(request.identity, team_id)
    account = get_service_account(request.identity, sa_id)
    team_member_remove(identity=request.identity, team=team, service_account=account)
    return JsonResponse({"message": "Team Member removed"})


@api_view({"GET": READ_TEAMS, "PUT": TEAMS_WRITE})
def team_permissions(request: AppRequest, team_id: str) -> JsonResponse:
    team = get_team(request.identity, team_id)
    if request.method == "PUT":
        names = _permissions_field(parse_json_object(request))
        granted = team_permissions_set(identity=request.identity, team=team, permissions=names)
        return JsonResponse({"message": "Team permissions updated", "permissions": granted})
    return JsonResponse({"permissions": team.permission_names()})


def _account_permissions(account: ServiceAccount) -> dict:
    return {
        "permissions": list(account.permission_grants.values_list("permission", flat=True)),
        "effective": [
            {"permission": name, "sources": sources}
            for name, sources in effective_permission_sources(account)
        ],
    }


@api_view({"GET": SERVICEACCOUNTS_READ, "PUT": SERVICEACCOUNTS_WRITE})
def service_account_permissions(request: AppRequest, sa_id: str) -> JsonResponse:
    account = get_service_account(request.identity, sa_id)
    if request.method == "PUT":
        names = _permissions_field(parse_json_object(request))
        service_account_permissions_set(
            identity=request.identity, account=account, permissions=names
        )
        return JsonResponse(
            {"message": "Service account permissions updated", **_account_permissions(account)}
        )
    return JsonResponse(_account_permissions(account))


@api_view({"GET": READ_CATALOGUE, "POST": TEAMS_WRITE})
def permissions(request: AppRequest) -> JsonResponse:
    if request.method == "POST":
        data = parse_json_object(request)
        created = permission_create(
            identity=request.identity,
            name=field(data, "name", str, required=True),
            description=field(data, "description", str, default=""),
        )
        body = {"name": created.name, "description": created.description, "builtIn": False}
        return JsonResponse(body, status=201)
    return JsonResponse(
        [
            {"name": name, "description": text, "builtIn": builtin}
            for name, text, builtin in catalogue(request.identity.org)
        ],
        safe=False,
    )


@api_view({"DELETE": TEAMS_WRITE})
def permission_detail(request: AppRequest, name: str) -> JsonResponse:
    permission_delete(identity=request.identity, name=name)
    return JsonResponse({"message": "Permission deleted"})
