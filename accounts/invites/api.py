"""Grafana's org invites API: ``/api/org/invites`` (list, create) and
``/api/org/invites/<code>/revoke``."""

from __future__ import annotations

from django.http import JsonResponse

from accounts.access import AppRequest
from accounts.api_base import api_view, field, parse_json_object, role_field
from accounts.invites.services import invite_create, invite_link, invite_revoke, pending_invites
from accounts.network import public_base_url
from accounts.teams.catalogue import USERS_WRITE


@api_view({"GET": USERS_WRITE, "POST": USERS_WRITE})
def invites(request: AppRequest) -> JsonResponse:
    identity = request.identity
    if request.method == "GET":
        return JsonResponse([i.to_api() for i in pending_invites(identity.org)], safe=False)
    data = parse_json_object(request)
    login_or_email = field(data, "loginOrEmail", str, required=True)
    send_email = field(data, "sendEmail", bool, default=False)  # as in Grafana
    invite, secret = invite_create(
        identity=identity,
        login_or_email=login_or_email,
        name=field(data, "name", str, default=""),
        role=role_field(data),
        send_email=send_email,
        base_url=public_base_url(request),
    )
    verb = "Sent invite to" if send_email else "Created invite for"
    body = {"message": f"{verb} {invite.email}", "code": invite.code}
    if not send_email:
        # Grafana shows such a link to share by hand; here it is shown this once only.
        body["url"] = invite_link(public_base_url(request), secret)
    return JsonResponse(body)


@api_view({"DELETE": USERS_WRITE})
def invite_revoke_view(request: AppRequest, code: str) -> JsonResponse:
    invite_revoke(identity=request.identity, code=code)
    return JsonResponse({"message": "Invite revoked"})
