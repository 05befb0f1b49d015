"""``/api/serviceaccounts/<id>/tokens`` in Grafana's shapes, and Keyhouse's token lifecycle
(rename, revoke, rotate) beside them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import JsonResponse
from django.utils import timezone

from accounts.access import AppRequest, get_or_404, get_service_account
from accounts.api_base import ApiError, api_view, field, parse_json_object, seconds_to_live
from accounts.models import isoformat
from accounts.teams.catalogue import SERVICEACCOUNTS_READ, SERVICEACCOUNTS_WRITE
from tokens.models import ServiceAccountToken
from tokens.services import (
    DEFAULT_GRACE,
    MAX_GRACE,
    token_create,
    token_delete,
    token_rename,
    token_revoke,
    token_rotate,
)


def _get_token(request: AppRequest, sa_id: str, token_id: str) -> ServiceAccountToken:
    account = get_service_account(request.identity, sa_id)
    return get_or_404(account.tokens.all(), token_id)


def _expires_at(data: dict, now: datetime) -> datetime | None:
    ttl = seconds_to_live(data)
    return now + timedelta(seconds=ttl) if ttl else None


@api_view({"GET": SERVICEACCOUNTS_READ, "POST": SERVICEACCOUNTS_WRITE})
def tokens(request: AppRequest, sa_id: str) -> JsonResponse:
    account = get_service_account(request.identity, sa_id)
    now = timezone.now()
    if request.method == "GET":
        return JsonResponse([token.to_api(now) for token in account.tokens.all()], safe=False)
    data = parse_json_object(request)
    name = field(data, "name", str, required=True)
    token, secret = token_create(
        identity=request.identity,
        account=account,
        name=name,
        expires_at=_expires_at(data, now),
        now=now,
    )
    return JsonResponse({"id": token.pk, "name": token.name, "key": secret})


@api_view({"PATCH": SERVICEACCOUNTS_WRITE, "DELETE": SERVICEACCOUNTS_WRITE})
def token_detail(request: AppRequest, sa_id: str, token_id: str) -> JsonResponse:
    token = _get_token(request, sa_id, token_id)
    if request.method == "PATCH":
        data = parse_json_object(request)
        token = token_rename(
            identity=request.identity, token=token, name=field(data, "name", str, required=True)
        )
        return JsonResponse(token.to_api())
    token_delete(identity=request.identity, token=token)
    return JsonResponse({"message": "Service account token deleted"})


@api_view({"POST": SERVICEACCOUNTS_WRITE})
def token_revoke_view(request: AppRequest, sa_id: str, token_id: str) -> JsonResponse:
    token = token_revoke(identity=request.identity, token=_get_token(request, sa_id, token_id))
    return JsonResponse(token.to_api())


@api_view({"POST": SERVICEACCOUNTS_WRITE})
def token_rotate_view(request: AppRequest, sa_id: str, token_id: str) -> JsonResponse:
    token = _get_token(request, sa_id, token_id)
    data = parse_json_object(request)
    longest = int(MAX_GRACE.total_seconds())
    grace = field(data, "graceSeconds", int, default=int(DEFAULT_GRACE.total_seconds()))
    if not 0 <= grace <= longest:
        raise ApiError(400, f"graceSeconds must be between 0 and {longest}")
    now = timezone.now()
    rotation = token_rotate(
        identity=request.identity,
        token=token,
        grace=timedelta(seconds=grace),
        expires_at=_expires_at(data, now),
        now=now,
    )
    return JsonResponse(
        {
            "id": rotation.new.pk,
            "name": rotation.new.name,
            "key": rotation.secret,
            "replaces": rotation.old.pk,
            "oldExpiresAt": isoformat(rotation.old.expires_at),
        }
    )
