"""Small helpers shared by the server-rendered pages of every app."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from accounts.access import AppRequest
from accounts.redirects import safe_next_url


def htmx_partial(request: AppRequest) -> bool:
    """An htmx swap of part of the page (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def confirm_page(request: AppRequest, **context) -> HttpResponse:
    """The no-JavaScript stand-in for htmx's confirm()."""
    context.setdefault("next", safe_next_url(request, reverse("serviceaccounts")))
    context.setdefault("nav_active", "serviceaccounts")
    return render(request, "confirm.html", context)
