from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.http import HttpRequest, HttpResponseBase


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
