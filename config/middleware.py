from collections.abc import Callable
from typing import Any

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase

from accounts.error_pages import is_api


class PagesOnly:
    """Mixed into a middleware that only pages need: ``/api/`` requests pass it by.

    The API authenticates every request by its Authorization header and answers JSON: it
    never reads the session, the signed-in user or messages (DESIGN §3, hot path). Setting
    them up anyway (the message storage alone builds a cookie signer) cost an API call
    about a tenth of its time. The security headers come from other middleware, which
    every request still passes.
    """

    get_response: Callable[[HttpRequest], Any]

    def __call__(self, request: HttpRequest) -> Any:
        if is_api(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(PagesOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(PagesOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(PagesOnly, messages.MessageMiddleware):
    pass


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, skipped for responses that set their own policy.

    django-csp builds the whole policy string before it looks whether the response has one;
    the JSON API sends a fixed deny-all policy instead and should not pay for that on every
    request.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if response.has_header("Content-Security-Policy"):
            return response
        return super().process_response(request, response)
