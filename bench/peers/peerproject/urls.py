"""The same document behind each library's documented way of protecting a DRF view."""

from django.urls import path
from knox.auth import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

from peerproject.org import ORG


class ApiKeyOrg(APIView):
    """djangorestframework-api-key: ``Authorization: Api-Key <key>``."""

    permission_classes = [HasAPIKey]

    def get(self, request: Request) -> Response:
        return Response(ORG)


class KnoxOrg(APIView):
    """django-rest-knox: ``Authorization: Token <token>``."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(ORG)


urlpatterns = [
    path("api-key/org", ApiKeyOrg.as_view()),
    path("knox/org", KnoxOrg.as_view()),
]
