"""``GET /api/audit``: the caller's org's audit log, read-only (there is no way to change it)."""

from __future__ import annotations

from django.http import JsonResponse

from accounts.access import AppRequest
from accounts.api_base import ApiError, api_view, paged
from accounts.audit.listing import AuditFilterForm, audit_listing
from accounts.teams.catalogue import AUDIT_READ


@api_view({"GET": AUDIT_READ})
def audit_events(request: AppRequest) -> JsonResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        problems = [f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()]
        raise ApiError(400, "Bad request data: " + "; ".join(problems))
    events, total = audit_listing(request.identity, form.filters())
    envelope, rows = paged(request, events, total=total)
    return JsonResponse({**envelope, "events": [event.to_api() for event in rows]})
