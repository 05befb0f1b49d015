"""``/api/auth/keys`` and the migration endpoints, in Grafana's shapes."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils import timezone

from accounts.access import AppRequest, scoped_get
from accounts.api_base import (
    ApiError,
    api_view,
    field,
    parse_json_object,
    role_field,
    seconds_to_live,
)
from accounts.teams.catalogue import APIKEYS_WRITE
from apikeys.leaks import MAX_REPORTED, report_leaks
from apikeys.models import ApiKey
from apikeys.services import api_key_create, api_key_delete, hide_api_keys, migrate_keys


@api_view({"GET": APIKEYS_WRITE, "POST": APIKEYS_WRITE})
def keys(request: AppRequest) -> JsonResponse:
    org = request.identity.org
    if request.method == "GET":
        listed = ApiKey.objects.filter(org=org).unmigrated()
        if request.GET.get("includeExpired") != "true":
            listed = listed.unexpired(timezone.now())
        return JsonResponse([key.to_api() for key in listed], safe=False)
    data = parse_json_object(request)
    name = field(data, "name", str, required=True)
    role = role_field(data)
    ttl = seconds_to_live(data)
    key, secret = api_key_create(
        identity=request.identity, name=name, role=role, seconds_to_live=ttl
    )
    return JsonResponse({"id": key.pk, "name": key.name, "key": secret})


@api_view({"DELETE": APIKEYS_WRITE})
def key_detail(request: AppRequest, key_id: str) -> JsonResponse:
    key = scoped_get(request.identity, ApiKey.objects.unmigrated(), key_id)
    api_key_delete(identity=request.identity, key=key)
    return JsonResponse({"message": "API key deleted"})


@api_view({"POST": APIKEYS_WRITE})
def migrate_all(request: AppRequest) -> JsonResponse:
    return JsonResponse(migrate_keys(request.identity.org, actor=request.identity).to_api())


@api_view({"POST": APIKEYS_WRITE})
def migrate_one(request: AppRequest, key_id: str) -> JsonResponse:
    key = scoped_get(request.identity, ApiKey.objects.unmigrated(), key_id)
    result = migrate_keys(
        request.identity.org, actor=request.identity, key_ids=[key.pk], mark_org=False
    )
    if result.failed:
        raise ApiError(409, result.failed_details[0])
    account = result.last_account
    if account is None:  # a concurrent request migrated it first
        raise ApiError(404, "Not found")
    return JsonResponse(
        {"message": "API key migrated to service account", "serviceAccountId": account.pk}
    )


@api_view({"GET": APIKEYS_WRITE})
def migration_status(request: AppRequest) -> JsonResponse:
    return JsonResponse({"migrated": request.identity.org.api_keys_migrated_at is not None})


@api_view({"POST": APIKEYS_WRITE})
def hide(request: AppRequest) -> JsonResponse:
    hide_api_keys(identity=request.identity)
    return JsonResponse({"message": "API keys hidden"})


SOURCE_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000


@api_view(["POST"])
def leaked(request: AppRequest) -> JsonResponse:
    """A secret scanner's report (server admins, or the account given ``tokens:report-leak``):
    ``{"tokens": [...], "source"?, "url"?}`` → counts only."""
    data = parse_json_object(request)
    strings = data.get("tokens")
    if not isinstance(strings, list) or not all(isinstance(text, str) for text in strings):
        raise ApiError(400, "Bad request data: tokens must be a list of strings")
    if len(strings) > MAX_REPORTED:
        raise ApiError(400, f"Bad request data: at most {MAX_REPORTED} tokens per report")
    source = field(data, "source", str, default="").strip()
    url = field(data, "url", str, default="").strip()
    if len(source) > SOURCE_MAX_LENGTH or len(url) > URL_MAX_LENGTH:
        raise ApiError(
            400,
            f"Bad request data: source must be at most {SOURCE_MAX_LENGTH} characters and "
            f"url at most {URL_MAX_LENGTH}",
        )
    counts = report_leaks(identity=request.identity, strings=strings, source=source, url=url)
    return JsonResponse(counts.to_api())
