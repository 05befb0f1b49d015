"""The actions of the service-account page's Teams and Permissions sections
(``accounts.teams.sections``). Taking an account out of a team is the team's own action
(``team-member-sa-remove``, with ``?next=`` back to the account's page)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from accounts.access import (
    AppRequest,
    get_service_account,
    get_team,
    org_view,
    require_permission,
)
from accounts.errors import NotFound, Refusal
from accounts.models import ServiceAccount
from accounts.serviceaccount_views import DETAIL_TEMPLATE, _detail_context
from accounts.teams.catalogue import SERVICEACCOUNTS_READ, SERVICEACCOUNTS_WRITE, TEAMS_WRITE
from accounts.teams.checklist import checklist_answer, save_checklist
from accounts.teams.sections import SECTIONS
from accounts.teams.services import service_account_permissions_set, team_member_add
from accounts.teams.views import TEAM_MEMBERS_CHANGED
from accounts.ui import action_done, htmx_partial


@org_view(TEAMS_WRITE)
@require_POST
def service_account_team_add(request: AppRequest, sa_id: str) -> HttpResponse:
    identity = request.identity
    # The form is on the account's page, which a refusal shows again: it needs reading too.
    require_permission(identity, SERVICEACCOUNTS_READ)
    account = get_service_account(identity, sa_id)
    if not request.POST.get("team"):
        return _team_refused(request, account, "Choose a team.")
    team = get_team(identity, request.POST["team"])
    try:
        team_member_add(identity=identity, team=team, service_account=account)
    except NotFound:
        raise
    except Refusal as exc:  # already a member, Everyone, or the grant ceiling
        return _team_refused(request, account, exc.message)
    messages.success(request, f"Added '{account.name}' to the team '{team.name}'.")
    detail_url = reverse("serviceaccount", args=[account.pk])
    return action_done(request, event=TEAM_MEMBERS_CHANGED, next_url=detail_url)


def _team_refused(request: AppRequest, account: ServiceAccount, error: str) -> HttpResponse:
    """The Teams section with the refusal beside its form (the page without JavaScript)."""
    context = _detail_context(request, account, team_error=error)
    if htmx_partial(request):
        response = render(request, SECTIONS["sa-teams"], context)
        return reswap(retarget(response, "#sa-teams"), "outerHTML")
    return render(request, DETAIL_TEMPLATE, context)


@org_view(SERVICEACCOUNTS_WRITE)
@require_POST
def service_account_permissions(request: AppRequest, sa_id: str) -> HttpResponse:
    """Replace the account's individual permissions with the checked ones."""
    account = get_service_account(request.identity, sa_id)
    error = save_checklist(
        request,
        lambda names: service_account_permissions_set(
            identity=request.identity, account=account, permissions=names
        ),
    )
    return checklist_answer(
        request,
        error=error,
        page=DETAIL_TEMPLATE,
        partial=SECTIONS["sa-permissions"],
        context=_detail_context(request, account),
        next_url=reverse("serviceaccount", args=[account.pk]),
    )
