"""Configuration → Service accounts: list, create, the account page and its actions.

One view serves a full page and its HTMX fragment (``template#partial``). Actions follow the
pattern of ``accounts.ui``: they answer htmx with ``serviceAccountsChanged``, on which the
list's results (with their search, filter and page) and the account page's header refresh.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts.access import (
    AppRequest,
    Identity,
    assignable_roles,
    can_manage_account,
    get_service_account,
    org_view,
)
from accounts.errors import Conflict, RoleCeilingExceeded
from accounts.forms import RenameForm, ServiceAccountForm
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_create, service_account_delete, service_account_update
from accounts.teams.catalogue import SERVICEACCOUNTS_READ, SERVICEACCOUNTS_WRITE
from accounts.teams.models import with_team_names
from accounts.teams.sections import SECTIONS, ServiceAccountAccess
from accounts.ui import action_done, confirm, htmx_partial, next_url_leaving, safe_next_url

LIST_TEMPLATE = "accounts/serviceaccount_list.html"
DETAIL_TEMPLATE = "accounts/serviceaccount_detail.html"
PER_PAGE = 50
FILTERS = {
    "all": "All",
    "expired": "With expired tokens",
    "expiring": "Expiring soon",
    "disabled": "Disabled",
}
RESULTS_TARGET = "sa-results"
DETAIL_PARTIALS = {"sa-header": "header", "tokens": "tokens"}
ACCOUNTS_CHANGED = "serviceAccountsChanged"
ROLE_CHANGED = "serviceAccountRoleChanged"


def _listing_context(identity: Identity, params: QueryDict) -> dict:
    query = params.get("query", "").strip()[:200]
    current = params.get("filter", "all")
    if current not in FILTERS:
        current = "all"
    now = timezone.now()
    in_org = ServiceAccount.objects.for_org(identity.org)
    accounts = in_org.listing(
        query=query,
        disabled_only=current == "disabled",
        expired_only=current == "expired",
        expiring_only=current == "expiring",
    ).with_expiry_stats(now)
    page = Paginator(accounts, PER_PAGE).get_page(params.get("page"))
    never_expire = None
    if current == "expiring":  # beside what expires soon, what never does
        never_expire = Paginator(in_org.never_expiring_tokens(), PER_PAGE).get_page(
            params.get("never_page")
        )
    return {
        "now": now,
        "page": page,
        "never_expire": never_expire,
        "expiring_soon_days": settings.KEYHOUSE_EXPIRING_SOON_DAYS,
        "query": query,
        "filter": current,
        "filters": FILTERS,
        "roles": assignable_roles(identity),
        "org_has_accounts": bool(page.object_list) or in_org.exists(),
    }


@org_view(SERVICEACCOUNTS_READ)
@require_GET
def service_account_list(request: AppRequest) -> HttpResponse:
    context = {"nav_active": "serviceaccounts", **_listing_context(request.identity, request.GET)}
    with_team_names(context["page"])
    if htmx_partial(request) and request.htmx.target == RESULTS_TARGET:
        return render(request, f"{LIST_TEMPLATE}#results", context)
    return render(request, LIST_TEMPLATE, context)


@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def service_account_create_view(request: AppRequest) -> HttpResponse:
    roles = assignable_roles(request.identity)
    form = ServiceAccountForm(request.POST or None, roles=roles)
    if request.method == "POST" and form.is_valid():
        try:
            account = service_account_create(
                identity=request.identity,
                name=form.cleaned_data["name"],
                role=Role(form.cleaned_data["role"]),
            )
        except ValidationError as exc:
            form.add_error("name", exc)
        except Conflict as exc:
            form.add_error("name", exc.message)
        except RoleCeilingExceeded as exc:
            form.add_error("role", exc.message)
        else:
            return redirect("serviceaccount", sa_id=account.pk)
    return render(
        request,
        "accounts/serviceaccount_create.html",
        {"nav_active": "serviceaccounts", "form": form},
    )


def _detail_context(request: AppRequest, account: ServiceAccount, **extra: Any) -> dict[str, Any]:
    return {
        "nav_active": "serviceaccounts",
        "sa": account,
        "roles": assignable_roles(request.identity),
        "tokens": account.tokens.all(),
        "now": timezone.now(),
        "sa_access": ServiceAccountAccess(request.identity, account),
        **extra,
    }


@org_view(SERVICEACCOUNTS_READ)
@require_GET
def service_account_detail(request: AppRequest, sa_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    editing = request.GET.get("edit") == "name" and can_manage_account(request.identity, account)
    context = _detail_context(
        request,
        account,
        editing_name=editing,
        rename_form=RenameForm(initial={"name": account.name}),
    )
    if htmx_partial(request) and request.htmx.target in DETAIL_PARTIALS:
        return render(request, f"{DETAIL_TEMPLATE}#{DETAIL_PARTIALS[request.htmx.target]}", context)
    if htmx_partial(request) and request.htmx.target in SECTIONS:
        return render(request, SECTIONS[request.htmx.target], context)
    return render(request, DETAIL_TEMPLATE, context)


@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def service_account_name(request: AppRequest, sa_id: str) -> HttpResponse:
    """Inline rename: GET gives the form (or, with ?cancel, the name again); POST saves."""
    account = get_service_account(request.identity, sa_id)
    detail_url = reverse("serviceaccount", args=[account.pk])
    if request.method == "GET":
        if not htmx_partial(request):
            return redirect(f"{detail_url}?edit=name")
        editing = "cancel" not in request.GET
        context = {"sa": account, "rename_form": RenameForm(initial={"name": account.name})}
        partial = "name_form" if editing else "name"
        return render(request, f"{DETAIL_TEMPLATE}#{partial}", context)
    form = RenameForm(request.POST)
    if form.is_valid():
        try:
            account = service_account_update(
                identity=request.identity, account=account, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            form.add_error("name", exc)
        except Conflict as exc:
            form.add_error("name", exc.message)
    if form.errors:
        account.refresh_from_db()
        if htmx_partial(request):
            return render(
                request, f"{DETAIL_TEMPLATE}#name_form", {"sa": account, "rename_form": form}
            )
        context = _detail_context(request, account, editing_name=True, rename_form=form)
        return render(request, DETAIL_TEMPLATE, context)
    if htmx_partial(request):
        context = {"sa": account, "renamed": True, "oob": True}
        return render(request, f"{DETAIL_TEMPLATE}#name", context)
    return redirect(detail_url)


@org_view(SERVICEACCOUNTS_WRITE)
@require_POST
def service_account_role(request: AppRequest, sa_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    error = ""
    try:
        role = Role(request.POST.get("role", ""))
        account = service_account_update(identity=request.identity, account=account, role=role)
    except ValueError:
        error = "Choose one of the offered roles."
    except RoleCeilingExceeded as exc:
        error = exc.message
    if error:
        account.refresh_from_db()
    if htmx_partial(request):
        context = {
            "sa": account,
            "roles": assignable_roles(request.identity),
            "saved": not error,
            "error": error,
            "next": safe_next_url(request, reverse("serviceaccounts")),
        }
        response = render(request, "accounts/_role_picker.html", context)
        # The role counts in the effective permissions (Admin holds them all).
        return response if error else trigger_client_event(response, ROLE_CHANGED)
    return redirect(safe_next_url(request, reverse("serviceaccount", args=[account.pk])))


@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def service_account_disable(request: AppRequest, sa_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    next_url = safe_next_url(request, reverse("serviceaccounts"))
    if request.method == "GET":
        return confirm(request, next_url=next_url, sa=account)
    service_account_update(identity=request.identity, account=account, is_disabled=True)
    return action_done(request, event=ACCOUNTS_CHANGED, next_url=next_url)


@org_view(SERVICEACCOUNTS_WRITE)
@require_POST
def service_account_enable(request: AppRequest, sa_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    service_account_update(identity=request.identity, account=account, is_disabled=False)
    next_url = safe_next_url(request, reverse("serviceaccounts"))
    return action_done(request, event=ACCOUNTS_CHANGED, next_url=next_url)


@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def service_account_delete_view(request: AppRequest, sa_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    next_url, came_from = next_url_leaving(
        request, reverse("serviceaccount", args=[account.pk]), reverse("serviceaccounts")
    )
    if request.method == "GET":
        return confirm(
            request,
            next_url=next_url,
            cancel_url=came_from,
            danger=True,
            sa=account,
            token_count=account.tokens.count(),
        )
    service_account_delete(identity=request.identity, account=account)
    messages.success(request, f"Service account '{account.name}' deleted.")
    return action_done(request, event=ACCOUNTS_CHANGED, next_url=next_url)
