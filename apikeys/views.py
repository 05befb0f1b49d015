"""Configuration → API keys: the legacy keys, their one-time reveal, and the wizard that
migrates them to service accounts. Each step is a full page without JS and a fragment or
dialog with htmx; actions follow the pattern of ``accounts.ui``."""

from __future__ import annotations

from itertools import islice
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts.access import AppRequest, assignable_roles, org_view, scoped_get
from accounts.errors import Conflict, RoleCeilingExceeded, message_of
from accounts.roles import Role
from accounts.teams.catalogue import APIKEYS_WRITE
from accounts.ui import action_done, confirm, htmx_partial
from apikeys.forms import ApiKeyForm
from apikeys.models import ApiKey
from apikeys.services import (
    ApiKeysMigrated,
    api_key_create,
    api_key_delete,
    hide_api_keys,
    migrate_keys,
    plan_migration,
)

PAGE_TEMPLATE = "apikeys/apikeys.html"
MIGRATE_TEMPLATE = "apikeys/migrate.html"
KEYS_CHANGED = "apiKeysChanged"  # refreshes the table only, so a reveal stays on screen
KEYS_MIGRATED = "apiKeysMigrated"  # refreshes the whole page content
# The preview lists the first keys only: an org may have 100 000 of them.
PREVIEW_ROWS = 100
PARTIALS = {"apikeys-content": "content", "apikeys-table": "keys_table"}


def _page_context(
    request: AppRequest, form: ApiKeyForm | None = None, **extra: Any
) -> dict[str, Any]:
    org = request.identity.org
    now = timezone.now()
    include_expired = request.GET.get("includeExpired") == "true"
    keys = ApiKey.objects.filter(org=org).unmigrated()
    if not include_expired:
        keys = keys.unexpired(now)
    migrated = (
        ApiKey.objects.filter(org=org, migrated_at__isnull=False)
        .select_related("service_account")
        .order_by("name_key")
    )
    return {
        "nav_active": "apikeys",
        "org": org,
        "keys": keys,
        "now": now,
        "include_expired": include_expired,
        "form": form or ApiKeyForm(roles=assignable_roles(request.identity)),
        "migrated_keys": migrated if org.api_keys_migrated_at else [],
        **extra,
    }


def _hidden_redirect(request: AppRequest) -> HttpResponse | None:
    if request.identity.org.api_keys_hidden:
        return redirect("serviceaccounts")
    return None


@org_view(APIKEYS_WRITE)
@require_GET
def api_keys(request: AppRequest) -> HttpResponse:
    if hidden := _hidden_redirect(request):
        return hidden
    context = _page_context(request)
    if htmx_partial(request) and request.htmx.target in PARTIALS:
        return render(request, f"{PAGE_TEMPLATE}#{PARTIALS[request.htmx.target]}", context)
    return render(request, PAGE_TEMPLATE, context)


@never_cache
@org_view(APIKEYS_WRITE)
@require_POST
def api_key_new(request: AppRequest) -> HttpResponse:
    """Create a key; the response that reveals it is the only place it ever appears."""
    if hidden := _hidden_redirect(request):
        return hidden
    form = ApiKeyForm(request.POST, roles=assignable_roles(request.identity))
    key = secret = None
    if form.is_valid():
        try:
            key, secret = api_key_create(
                identity=request.identity,
                name=form.cleaned_data["name"],
                role=Role(form.cleaned_data["role"]),
                seconds_to_live=form.cleaned_data["ttl"],
            )
        except ValidationError as exc:
            form.add_error("ttl" if exc.code == "ttl" else "name", exc)
        except (Conflict, ApiKeysMigrated) as exc:
            form.add_error("name", exc.message)
        except RoleCeilingExceeded as exc:
            form.add_error("role", exc.message)
    context = _page_context(request, form=form, new_key=key, secret=secret)
    if htmx_partial(request):
        response = render(request, f"{PAGE_TEMPLATE}#new_key", context)
        return trigger_client_event(response, KEYS_CHANGED) if secret else response
    return render(request, PAGE_TEMPLATE, context)


@org_view(APIKEYS_WRITE)
@require_http_methods(["GET", "POST"])
def api_key_delete_view(request: AppRequest, key_id: str) -> HttpResponse:
    key = scoped_get(request.identity, ApiKey.objects.unmigrated(), key_id)
    if request.method == "GET":
        return confirm(
            request, next_url=reverse("apikeys"), danger=True, nav_active="apikeys", key=key
        )
    api_key_delete(identity=request.identity, key=key)
    messages.success(request, f"API key '{key.name}' deleted.")
    return action_done(request, event=KEYS_CHANGED, next_url=reverse("apikeys"))


@org_view(APIKEYS_WRITE)
@require_http_methods(["GET", "POST"])
def api_key_migrate_one(request: AppRequest, key_id: str) -> HttpResponse:
    key = scoped_get(request.identity, ApiKey.objects.unmigrated(), key_id)
    if request.method == "GET":
        return confirm(request, next_url=reverse("apikeys"), nav_active="apikeys", key=key)
    result = migrate_keys(
        request.identity.org, actor=request.identity, key_ids=[key.pk], mark_org=False
    )
    if (account := result.last_account) is not None:
        messages.success(request, f"API key '{key.name}' is now service account '{account}'.")
    else:
        messages.error(request, " ".join(result.failed_details) or "Nothing was migrated.")
    return action_done(request, event=KEYS_CHANGED, next_url=reverse("apikeys"))


@org_view(APIKEYS_WRITE)
@require_http_methods(["GET", "POST"])
def migrate_all(request: AppRequest) -> HttpResponse:
    """GET previews what will happen; POST migrates and answers with the summary."""
    if hidden := _hidden_redirect(request):
        return hidden
    context: dict[str, Any] = {"nav_active": "apikeys", "in_dialog": htmx_partial(request)}
    if request.method == "GET":
        org, now = request.identity.org, timezone.now()
        keys = ApiKey.objects.filter(org=org).unmigrated()
        total = keys.count()
        context["plan"] = plan = list(islice(plan_migration(org), PREVIEW_ROWS))
        context["total"], context["more"] = total, total - len(plan)
        context["expired"] = total - keys.unexpired(now).count()
        context["now"] = now
    else:
        context["result"] = migrate_keys(request.identity.org, actor=request.identity)
    if htmx_partial(request):
        partial = "dialog" if request.method == "GET" else "dialog_body"
        response = render(request, f"{MIGRATE_TEMPLATE}#{partial}", context)
        return (
            trigger_client_event(response, KEYS_MIGRATED) if request.method == "POST" else response
        )
    return render(request, MIGRATE_TEMPLATE, context)


@org_view(APIKEYS_WRITE)
@require_http_methods(["GET", "POST"])
def hide_view(request: AppRequest) -> HttpResponse:
    """Hiding leads away from the page it hides, so its dialog posts without htmx."""
    if request.method == "GET":
        return confirm(
            request,
            next_url=reverse("serviceaccounts"),
            cancel_url=reverse("apikeys"),
            danger=True,
            nav_active="apikeys",
        )
    try:
        hide_api_keys(identity=request.identity)
    except ValidationError as exc:
        messages.error(request, message_of(exc))
        return action_done(request, event=KEYS_MIGRATED, next_url=reverse("apikeys"))
    messages.success(request, "The API keys page is hidden. Use service accounts from now on.")
    return action_done(request, event=KEYS_MIGRATED, next_url=reverse("serviceaccounts"))
