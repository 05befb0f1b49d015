"""A bare Django JSON view and its URLconf (``bare_settings``: no middleware, no database)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from peerproject.org import ORG


def org(request: HttpRequest) -> JsonResponse:
    return JsonResponse(ORG)


urlpatterns = [path("org", org)]
