"""The "Add service account token" dialog, the one-time reveal, and token deletion.

The dialog is a fragment when htmx asks for it and a whole page otherwise, so the same flow
works without JavaScript. The reveal exists only in the response to the POST that created the
token: no redirect, no session, no messages, never cached. Both answer htmx with
``tokensChanged``, on which the tokens table and the service-account list refresh.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from accounts.access import AppRequest, get_or_404, get_service_account, org_view
from accounts.errors import Refusal
from accounts.models import ServiceAccount
from accounts.teams.catalogue import SERVICEACCOUNTS_WRITE
from accounts.ui import action_done, confirm, htmx_partial
from tokens.forms import TokenForm
from tokens.services import suggest_token_name, token_create, token_delete

DIALOG_TEMPLATE = "tokens/token_add.html"
TOKENS_CHANGED = "tokensChanged"


@never_cache
@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def token_add(request: AppRequest, sa_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    today = timezone.now().date()
    if request.method == "GET":
        form = TokenForm(initial={"name": suggest_token_name(account)}, today=today)
        partial = "#dialog" if htmx_partial(request) else ""
        return _render(request, account, form, partial)
    form = TokenForm(request.POST, today=today)
    if form.is_valid():
        try:
            token, secret = token_create(
                identity=request.identity,
                account=account,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at,
            )
        except ValidationError as exc:
            form.add_error("expires_on" if exc.code and "expiry" in exc.code else "name", exc)
        except Refusal as exc:  # a taken name, or an account holding more than the caller
            form.add_error("name", exc.message)
        else:
            partial = "#dialog_body" if htmx_partial(request) else ""
            response = _render(request, account, form, partial, token=token, secret=secret)
            return trigger_client_event(response, TOKENS_CHANGED)
    return _render(request, account, form, "#dialog_body" if htmx_partial(request) else "")


def _render(
    request: AppRequest, account: ServiceAccount, form: TokenForm, partial: str, **extra: Any
) -> HttpResponse:
    context = {
        "nav_active": "serviceaccounts",
        "sa": account,
        "form": form,
        "in_dialog": bool(partial),  # a dialog's own Close/Cancel buttons, a page's links
        **extra,
    }
    return render(request, f"{DIALOG_TEMPLATE}{partial}", context)


@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def token_delete_view(request: AppRequest, sa_id: str, token_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    token = get_or_404(account.tokens.all(), token_id)
    detail_url = reverse("serviceaccount", args=[account.pk])
    if request.method == "GET":
        return confirm(request, next_url=detail_url, danger=True, token=token)
    token_delete(token=token)
    return action_done(request, event=TOKENS_CHANGED, next_url=detail_url)
