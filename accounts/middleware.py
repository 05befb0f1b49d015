"""Limits on browser sessions, and what browsers may keep of the pages they show."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import AppRequest
from accounts.error_pages import is_api
from accounts.ui import htmx_partial

SIGNED_IN_AT = "keyhouse_signed_in_at"
SEEN_AT = "keyhouse_seen_at"
# Recording activity writes the session: once a minute is precise enough for a 12-hour limit.
SEEN_RESOLUTION_SECONDS = 60


def start_session_clock(sender: type, request: AppRequest | None, **kwargs: Any) -> None:
    """On ``user_logged_in``: the session's limits count from now (saved with the login)."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = request.session[SEEN_AT] = now


class SessionLimitsMiddleware:
    """Ends a sign-in after ``KEYHOUSE_SESSION_IDLE_SECONDS`` without a request, and
    ``KEYHOUSE_SESSION_MAX_SECONDS`` after it began however busy it is; then the next page is
    the login page. Pages shown to a signed-in person are ``Cache-Control: private, no-store``,
    so neither a shared cache nor the back button after logging out shows them again.

    The API never uses sessions, so ``/api/`` passes untouched (and costs nothing here).
    """

    def __init__(self, get_response: Callable[[AppRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: AppRequest) -> HttpResponse:
        if is_api(request):
            return self.get_response(request)
        if request.user.is_authenticated and self._has_expired(request):
            logout(request)
            messages.info(request, "Your session has expired. Log in again.")
            to_login = redirect_to_login(request.get_full_path())
            # An htmx request would swap the login page into a fragment: send the browser.
            return HttpResponseClientRedirect(to_login.url) if htmx_partial(request) else to_login
        response = self.get_response(request)
        if request.user.is_authenticated and response.get("Content-Type", "").startswith(
            "text/html"
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response

    @staticmethod
    def _has_expired(request: AppRequest) -> bool:
        """Whether the session is past a limit; otherwise record this request as activity.
        A session that began before these limits existed starts counting now."""
        now = int(time.time())
        session = request.session
        signed_in_at = session.setdefault(SIGNED_IN_AT, now)
        seen_at = session.get(SEEN_AT, now)
        if (
            now - signed_in_at >= settings.KEYHOUSE_SESSION_MAX_SECONDS
            or now - seen_at >= settings.KEYHOUSE_SESSION_IDLE_SECONDS
        ):
            return True
        if SEEN_AT not in session or now - seen_at >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_AT] = now
        return False
