"""Small helpers shared by the server-rendered pages of every app."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import AppRequest
from accounts.redirects import safe_next_url


def htmx_partial(request: AppRequest) -> bool:
    """An htmx swap of part of the page (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def redirect_after_post(request: AppRequest, url: str) -> HttpResponse:
    """Send the browser to ``url``: ``HX-Redirect`` for htmx, a plain 302 without JS."""
    if htmx_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def confirm_page(request: AppRequest, **context) -> HttpResponse:
    """The no-JavaScript stand-in for htmx's confirm()."""
    context.setdefault("next", safe_next_url(request, reverse("serviceaccounts")))
    context.setdefault("nav_active", "serviceaccounts")
    return render(request, "confirm.html", context)
