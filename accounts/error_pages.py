"""What a request that failed gets (``handler400``, ``handler404`` and ``handler500`` in
config.urls): JSON under ``/api/``, a page elsewhere; 503 with ``Retry-After`` when the
database was only busy, 500 for anything else. The traceback goes to the log (Django's
``django.request`` logger records it before calling these), never to the client."""

from __future__ import annotations

import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse

from accounts.api_base import error_response, with_api_headers

RETRY_AFTER_SECONDS = 5
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available (lock_timeout).
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# SQLite's primary result codes SQLITE_BUSY and SQLITE_LOCKED ("database is locked").
BUSY_SQLITE_CODES = frozenset({5, 6})
# Where the 404 page leads back to: the Server admin section the missing page was in, else
# the home page (service accounts).
BACK_LINKS = {
    "/admin/orgs": ("admin-orgs", "Back to organizations"),
    "/admin/users": ("admin-users", "Back to users"),
    "/admin/grants": ("admin-grants", "Back to server grants"),
}
HOME_LINK = ("home", "Back to service accounts")


def is_database_busy(exc: BaseException | None) -> bool:
    """A database error that says "not now" rather than "wrong": a lock or serialization
    conflict, a lock wait that timed out, or no pooled connection free in time."""
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    code = getattr(cause, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in BUSY_SQLITE_CODES:
        return True
    return type(cause).__name__ == "PoolTimeout"  # psycopg_pool's, without importing it


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _api_error(400, "Bad request")
    return _page("400.html", 400)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page (the API answers its own 404s), with a link back to where the user was."""
    section = "/".join(request.path.split("/", 3)[:3])  # "/admin/orgs/7/delete" → "/admin/orgs"
    url_name, text = BACK_LINKS.get(section, HOME_LINK)
    context = {"back_url": reverse(url_name), "back_text": text}
    return render(request, "404.html", context, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, so it is still the current one.
    if is_database_busy(sys.exc_info()[1]):
        if is_api(request):
            response = _api_error(503, "The database is busy; try again in a few seconds")
        else:
            response = _page("503.html", 503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if is_api(request):
        return _api_error(500, "Internal server error")
    return _page("500.html", 500)


def _api_error(status: int, message: str) -> HttpResponse:
    return with_api_headers(error_response(status, message))


def _page(template_name: str, status: int) -> HttpResponse:
    # No request context: it would query the database (the navigation), which may be the
    # very thing that failed.
    html = loader.get_template(template_name).render()
    return HttpResponse(html, status=status)
