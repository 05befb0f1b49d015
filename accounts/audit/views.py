"""Configuration → Audit log: the org's events, newest first, filtered like the API."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from accounts.access import AppRequest, org_view
from accounts.audit.listing import AuditFilterForm, audit_listing
from accounts.audit.models import AuditEvent
from accounts.teams.catalogue import AUDIT_READ
from accounts.ui import page_or_partial

TEMPLATE = "accounts/audit_log.html"
PER_PAGE = 50


@org_view(AUDIT_READ)
@require_GET
def audit_log(request: AppRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.none()
    total = 0
    if form.is_valid():
        events, total = audit_listing(request.identity, form.filters())
    paginator = Paginator(events, PER_PAGE)
    paginator.__dict__["count"] = total  # known already: Paginator would COUNT again
    context = {
        "nav_active": "audit",
        "form": form,
        "page": paginator.get_page(request.GET.get("page")),
        "server_admin": request.identity.is_server_admin,
    }
    return page_or_partial(request, TEMPLATE, context, {"audit-results": "results"})
