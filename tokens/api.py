"""``/api/serviceaccounts/<id>/tokens`` in Grafana's shapes."""

from __future__ import annotations

from datetime import timedelta

from django.http import JsonResponse
from django.utils import timezone

from accounts.access import AppRequest, get_or_404, get_service_account
from accounts.api_base import api_view, field, parse_json_object, seconds_to_live
from accounts.teams.catalogue import SERVICEACCOUNTS_READ, SERVICEACCOUNTS_WRITE
from tokens.services import token_create, token_delete


@api_view({"GET": SERVICEACCOUNTS_READ, "POST": SERVICEACCOUNTS_WRITE})
def tokens(request: AppRequest, sa_id: str) -> JsonResponse:
    account = get_service_account(request.identity, sa_id)
    if request.method == "GET":
        now = timezone.now()
        return JsonResponse([token.to_api(now) for token in account.tokens.all()], safe=False)
    data = parse_json_object(request)
    name = field(data, "name", str, required=True)
    ttl = seconds_to_live(data)
    now = timezone.now()
    token, secret = token_create(
        identity=request.identity,
        account=account,
        name=name,
        expires_at=now + timedelta(seconds=ttl) if ttl else None,
        now=now,
    )
    return JsonResponse({"id": token.pk, "name": token.name, "key": secret})


@api_view({"DELETE": SERVICEACCOUNTS_WRITE})
def token_detail(request: AppRequest, sa_id: str, token_id: str) -> JsonResponse:
    account = get_service_account(request.identity, sa_id)
    token = get_or_404(account.tokens.all(), token_id)
    token_delete(token=token)
    return JsonResponse({"message": "Service account token deleted"})
