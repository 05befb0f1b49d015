"""Configuration → Permissions: the org's catalogue (built-in and custom permissions, with
who holds them), adding a custom permission, and deleting one with a confirmation that says
what it takes away. Changes answer htmx with ``permissionsChanged``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import AppRequest, Identity, org_view
from accounts.errors import Conflict
from accounts.teams.catalogue import TEAMS_WRITE, area_label
from accounts.teams.checklist import PERMISSIONS_CHANGED
from accounts.teams.forms import PermissionForm
from accounts.teams.models import (
    Permission,
    ServiceAccountPermission,
    TeamPermission,
    catalogue,
    permission_holder_counts,
)
from accounts.teams.services import permission_create, permission_delete
from accounts.ui import action_done, confirm, form_answer, page_or_partial

PAGE_TEMPLATE = "accounts/permission_list.html"


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    name: str
    description: str
    builtin: bool
    area: str
    teams: int  # how many teams hold it
    accounts: int  # how many service accounts hold it individually


def catalogue_rows(identity: Identity) -> list[CatalogueRow]:
    """The catalogue with its holders counted: two grouped queries, whatever its size."""
    org = identity.org
    teams = _holders(TeamPermission.objects.filter(team__org=org))
    accounts = _holders(ServiceAccountPermission.objects.filter(service_account__org=org))
    return [
        CatalogueRow(name, text, builtin, area_label(name), teams[name], accounts[name])
        for name, text, builtin in catalogue(org)
    ]


def _holders(grants: QuerySet[Any]) -> Counter[str]:
    """How many holders each permission has among ``grants``."""
    counts = grants.values("permission").annotate(n=Count("pk")).values_list("permission", "n")
    return Counter(dict(counts))


def _page_context(request: AppRequest, **extra: Any) -> dict[str, Any]:
    return {
        "nav_active": "permissions",
        "rows": catalogue_rows(request.identity),
        "form": PermissionForm(),
        **extra,
    }


@org_view(TEAMS_WRITE)
@require_GET
def permission_list(request: AppRequest) -> HttpResponse:
    context = _page_context(request)
    return page_or_partial(request, PAGE_TEMPLATE, context, {"permission-table": "table"})


@org_view(TEAMS_WRITE)
@require_POST
def permission_create_view(request: AppRequest) -> HttpResponse:
    form = PermissionForm(request.POST)
    created = None
    if form.is_valid():
        try:
            created = permission_create(
                identity=request.identity,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)  # it names its field
        except Conflict as exc:
            form.add_error("name", exc.message)
    return form_answer(
        request,
        done=f"Permission '{created.name}' added." if created else "",
        event=PERMISSIONS_CHANGED,
        partial=f"{PAGE_TEMPLATE}#add_form",
        context={"form": PermissionForm() if created else form},
        page=lambda: render(request, PAGE_TEMPLATE, _page_context(request, form=form)),
        next_url=reverse("permissions"),
    )


@org_view(TEAMS_WRITE)
@require_http_methods(["GET", "POST"])
def permission_delete_view(request: AppRequest, name: str) -> HttpResponse:
    """Only custom permissions can be deleted; a built-in one has no such page."""
    permission = Permission.objects.named(request.identity.org, name).first()
    if permission is None:
        raise Http404("No such custom permission")
    next_url = reverse("permissions")
    if request.method == "GET":
        teams, accounts = permission_holder_counts(request.identity.org, permission.name)
        return confirm(
            request,
            next_url=next_url,
            danger=True,
            nav_active="permissions",
            permission=permission,
            team_count=teams,
            account_count=accounts,
        )
    permission_delete(identity=request.identity, name=permission.name)
    messages.success(request, f"Permission '{permission.name}' deleted.")
    return action_done(request, event=PERMISSIONS_CHANGED, next_url=next_url)
