"""A lighter way through Django for the API's hottest requests (issue 10, item 2).

Reverse proxies call ``/api/auth/verify`` before every request they guard, and clients poll
``GET /api/org`` to check a token. Both authenticate by the Authorization header alone, yet
through Django's full handler they paid for all eleven middleware layers (most of which only
pages need) and the URL resolver: about half of their time in the process.

``FastPathHandler`` is Django's ``WSGIHandler`` (so the request, the ``request_started`` and
``request_finished`` signals, the status line and the headers are Django's own code), except
that a request in ``ROUTES`` goes through a shorter chain built by Django's own machinery
(``convert_exception_to_response`` around each layer, exactly as ``load_middleware`` does)
holding only the middleware in ``RUN``, then straight to the SAME view function. ``SKIPPED``
says, for every other entry of ``settings.MIDDLEWARE``, why it changes nothing for these
requests; the handler refuses to start when the two lists stop covering MIDDLEWARE, so a new
middleware cannot be skipped silently. Anything else (another path or method, no
Authorization header) takes Django's full path unchanged. tests/api/test_fastpath.py sends
the same requests both ways and requires the same answers, headers and side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.log import log_response
from django.utils.module_loading import import_string

from accounts import api, verification
from accounts.api_base import api_methods

View = Callable[[HttpRequest], HttpResponseBase]


# Exact paths (PATH_INFO) of header-authenticated API views; each serves the methods its
# ``api_view`` declares.
ROUTES: dict[str, View] = {
    "/api/org": api.current_org,
    "/api/auth/verify": verification.verify,
}

# The middleware the fast path runs, in MIDDLEWARE's order: they set headers (Security,
# X-Frame-Options, Content-Length), check the host, redirect to HTTPS, refresh a bad CSRF
# cookie.
RUN = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
SKIPPED = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves only files under STATIC_URL",
    "config.middleware.SessionMiddleware": "passes /api/ by (PagesOnly)",
    "config.middleware.AuthenticationMiddleware": "passes /api/ by (PagesOnly)",
    "config.middleware.MessageMiddleware": "passes /api/ by (PagesOnly)",
    "django_htmx.middleware.HtmxMiddleware": "only sets request.htmx, which no API view reads",
    "accounts.middleware.SessionLimitsMiddleware": "passes /api/ by",
    "config.middleware.CSPMiddleware": "API responses bring their own policy (api_view)",
}


class FastPathHandler(WSGIHandler):
    def __init__(self) -> None:
        super().__init__()
        listed = [name for name in settings.MIDDLEWARE if name not in SKIPPED]
        if listed != list(RUN) or set(SKIPPED) - set(settings.MIDDLEWARE):
            raise ImproperlyConfigured(
                "config.api_fastpath: every entry of MIDDLEWARE must be in RUN (in order) or "
                f"SKIPPED; MIDDLEWARE without SKIPPED is {listed}"
            )
        # Django's list, from every entry of MIDDLEWARE (missing in django-stubs)
        if self._exception_middleware:  # type: ignore[attr-defined]
            raise ImproperlyConfigured(
                "config.api_fastpath: a middleware with process_exception would have to see "
                "the fast path's exceptions too"
            )
        # Django's _get_response wraps the view in a transaction (make_view_atomic) for these
        if any(db.get("ATOMIC_REQUESTS") for db in settings.DATABASES.values()):
            raise ImproperlyConfigured(
                "config.api_fastpath: ATOMIC_REQUESTS would have to wrap the fast path's views too"
            )
        self._fast_view_middleware: list[Callable[..., HttpResponseBase | None]] = []
        chain: Callable[[HttpRequest], Any] = convert_exception_to_response(self._call_view)
        for name in reversed(RUN):
            middleware = import_string(name)(chain)
            if hasattr(middleware, "process_view"):
                self._fast_view_middleware.insert(0, middleware.process_view)
            chain = convert_exception_to_response(middleware)
        self._fast_chain = chain

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        """Django's ``BaseHandler.get_response`` with the short chain, for a hot request.
        There is no URL to resolve, so no ``set_urlconf``: ``get_urlconf()``'s default,
        ROOT_URLCONF, is what error handlers find either way."""
        if fast_route(request) is None:
            return super().get_response(request)
        response: HttpResponse = self._fast_chain(request)
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response

    def _call_view(self, request: HttpRequest) -> HttpResponseBase:
        """What ``BaseHandler._get_response`` does once the URL is resolved (API views answer
        plain responses, never template responses)."""
        view = fast_route(request)
        assert view is not None
        for process_view in self._fast_view_middleware:
            response = process_view(request, view, (), {})
            if response is not None:
                return response
        return view(request)


def fast_route(request: HttpRequest) -> View | None:
    """The view of a request the fast path serves, or None for Django's full path."""
    view = ROUTES.get(request.path_info)
    if view is None or not request.META.get("HTTP_AUTHORIZATION"):
        return None
    methods = api_methods(view)
    if methods is not None and request.method not in methods:
        return None
    return view
