"""The token dialogs and actions of a service account's page: "Add service account token",
Rotate (the same dialog, prefilled), the one-time reveal, inline rename, Revoke and Delete.

The dialogs are fragments when htmx asks for them and whole pages otherwise, so every flow
works without JavaScript. A reveal exists only in the response to the POST that created the
token: no redirect, no session, no messages, never cached. Changes answer htmx with
``tokensChanged``, on which the tokens table and the service-account list refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from accounts.access import AppRequest, get_or_404, get_service_account, org_view
from accounts.errors import Conflict, Refusal
from accounts.forms import RenameForm
from accounts.models import ServiceAccount
from accounts.teams.catalogue import SERVICEACCOUNTS_WRITE
from accounts.ui import action_done, confirm, htmx_partial
from tokens.forms import ExpiryForm, RotateForm, TokenForm
from tokens.models import ServiceAccountToken
from tokens.services import (
    check_rotatable,
    suggest_token_name,
    token_create,
    token_delete,
    token_rename,
    token_revoke,
    token_rotate,
)

DIALOG_TEMPLATE = "tokens/token_add.html"
ROW_TEMPLATE = "tokens/_token_row.html"
RENAME_TEMPLATE = "tokens/token_rename.html"
TOKENS_CHANGED = "tokensChanged"


def _get_token(request: AppRequest, sa_id: str, token_id: str) -> ServiceAccountToken:
    account = get_service_account(request.identity, sa_id)
    token = get_or_404(account.tokens.all(), token_id)
    token.service_account = account  # already loaded, and checked to be the caller's org's
    return token


def _add_error(form: ExpiryForm, exc: ValidationError | Refusal) -> None:
    """A service's refusal, on the field it is about."""
    if isinstance(exc, Refusal):
        form.add_error("name" if "name" in form.fields else None, exc.message)
    elif exc.code and "expiry" in exc.code:
        form.add_error("expires_on", exc)
    else:
        form.add_error("name" if "name" in form.fields else None, exc)


@never_cache
@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def token_add(request: AppRequest, sa_id: str) -> HttpResponse:
    account = get_service_account(request.identity, sa_id)
    today = timezone.now().date()
    if request.method == "GET":
        form = TokenForm(initial={"name": suggest_token_name(account)}, today=today)
        return _render_dialog(request, account, form, part="#dialog")
    form = TokenForm(request.POST, today=today)
    if form.is_valid():
        try:
            token, secret = token_create(
                identity=request.identity,
                account=account,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at,
            )
        except (ValidationError, Refusal) as exc:  # also an account holding more than the caller
            _add_error(form, exc)
        else:
            response = _render_dialog(request, account, form, token=token, secret=secret)
            return trigger_client_event(response, TOKENS_CHANGED)
    return _render_dialog(request, account, form)


@never_cache
@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def token_rotate_view(request: AppRequest, sa_id: str, token_id: str) -> HttpResponse:
    """Rotate: the Add-token dialog prefilled, with how long the old token keeps working."""
    token = _get_token(request, sa_id, token_id)
    account = token.service_account
    now = timezone.now()
    if request.method == "GET":
        form = RotateForm(token=token, today=now.date())
        try:
            check_rotatable(token, now)
        except Refusal as exc:
            return _render_dialog(
                request, account, form, part="#dialog", rotating=token, refusal=exc.message
            )
        return _render_dialog(request, account, form, part="#dialog", rotating=token)
    form = RotateForm(request.POST, token=token, today=now.date())
    if form.is_valid():
        try:
            rotation = token_rotate(
                identity=request.identity,
                token=token,
                grace=form.cleaned_data["grace"],
                expires_at=form.expires_at,
                now=now,
            )
        except (ValidationError, Refusal) as exc:
            _add_error(form, exc)
        else:
            response = _render_dialog(
                request,
                account,
                form,
                rotating=rotation.old,
                token=rotation.new,
                secret=rotation.secret,
                now=now,
            )
            return trigger_client_event(response, TOKENS_CHANGED)
    return _render_dialog(request, account, form, rotating=token)


def _render_dialog(
    request: AppRequest,
    account: ServiceAccount,
    form: ExpiryForm,
    *,
    part: str = "#dialog_body",
    **extra: Any,
) -> HttpResponse:
    """The dialog (``#dialog`` to open it, ``#dialog_body`` after a post) or, without htmx,
    the whole page."""
    partial = part if htmx_partial(request) else ""
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
def token_rename_view(request: AppRequest, sa_id: str, token_id: str) -> HttpResponse:
    """Inline rename in the tokens table: with htmx, GET swaps the row for its form (or, with
    ?cancel, back) and POST answers the row; without, this is a small page of its own."""
    token = _get_token(request, sa_id, token_id)
    detail_url = reverse("serviceaccount", args=[token.service_account_id])
    if request.method == "GET":
        cancelled = "cancel" in request.GET and htmx_partial(request)
        form = None if cancelled else RenameForm(initial={"name": token.name})
        return _render_rename(request, token, form)
    form = RenameForm(request.POST)
    if form.is_valid():
        try:
            token = token_rename(
                identity=request.identity, token=token, name=form.cleaned_data["name"]
            )
        except (ValidationError, Conflict) as exc:
            form.add_error("name", exc.message if isinstance(exc, Refusal) else exc)
    if form.errors:
        return _render_rename(request, token, form)
    if htmx_partial(request):
        return _render_rename(request, token, None, saved=True)
    return redirect(detail_url)


def _render_rename(
    request: AppRequest, token: ServiceAccountToken, form: RenameForm | None, **extra: Any
) -> HttpResponse:
    context = {
        "nav_active": "serviceaccounts",
        "sa": token.service_account,
        "token": token,
        "token_rename_form": form,
        "now": timezone.now(),
        **extra,
    }
    return render(request, ROW_TEMPLATE if htmx_partial(request) else RENAME_TEMPLATE, context)


def _confirmed(
    request: AppRequest, sa_id: str, token_id: str, act: Callable[[ServiceAccountToken], object]
) -> HttpResponse:
    """A token action that asks first (``accounts.ui``), then returns to the account page."""
    token = _get_token(request, sa_id, token_id)
    detail_url = reverse("serviceaccount", args=[token.service_account_id])
    if request.method == "GET":
        return confirm(request, next_url=detail_url, danger=True, token=token)
    act(token)
    return action_done(request, event=TOKENS_CHANGED, next_url=detail_url)


@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def token_revoke_view(request: AppRequest, sa_id: str, token_id: str) -> HttpResponse:
    return _confirmed(
        request, sa_id, token_id, lambda token: token_revoke(identity=request.identity, token=token)
    )


@org_view(SERVICEACCOUNTS_WRITE)
@require_http_methods(["GET", "POST"])
def token_delete_view(request: AppRequest, sa_id: str, token_id: str) -> HttpResponse:
    return _confirmed(
        request, sa_id, token_id, lambda token: token_delete(identity=request.identity, token=token)
    )
