"""Reading the audit log: one filter form and one listing behind both the Audit log page and
``GET /api/audit``. An org's events are visible to whoever holds ``audit:read`` in it (Admins
do); a server admin also sees the server-level events (sign-ins, leak reports' summaries…)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Sum

from accounts.access import MAX_DB_ID, Identity
from accounts.audit.models import ACTIONS, SERVER_SCOPE, ActorType, AuditEvent, AuditTally
from accounts.audit.services import TARGET_TYPES

FILTERS = ("action", "actorType", "targetType", "targetId", "serviceAccountId")


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [("", "Any"), *((value, value) for value in values)]


class AuditFilterForm(forms.Form):
    """The filters, named as the API's query parameters; all optional."""

    action = forms.CharField(
        label="Action",
        max_length=64,
        required=False,
        help_text="One action, or a family such as token.",
        widget=forms.TextInput(attrs={"list": "audit-actions", "autocomplete": "off"}),
    )
    actorType = forms.ChoiceField(
        label="Actor", required=False, choices=_choices([kind.value for kind in ActorType])
    )
    targetType = forms.ChoiceField(
        label="Target", required=False, choices=_choices(sorted(set(TARGET_TYPES.values())))
    )
    targetId = forms.IntegerField(
        label="Target id", required=False, min_value=1, max_value=MAX_DB_ID
    )
    serviceAccountId = forms.IntegerField(
        label="Service account id", required=False, min_value=1, max_value=MAX_DB_ID
    )

    actions = ACTIONS

    def filters(self) -> dict[str, Any]:
        """The filters given (call after ``is_valid``), by parameter name."""
        return {name: value for name in FILTERS if (value := self.cleaned_data.get(name))}


def scopes(identity: Identity) -> list[int | None]:
    """Whose events the caller sees: their org's, and a server admin the server's too."""
    return [identity.org.pk, None] if identity.is_server_admin else [identity.org.pk]


def audit_listing(identity: Identity, filters: dict[str, Any]) -> tuple[Any, int]:
    """The visible events matching ``filters`` (newest first) and how many there are.

    Unfiltered, the count is the tally's (one row per scope): a COUNT would read the whole
    index, and the log's first page has to stay fast with millions of events.
    """
    visible = scopes(identity)
    events = AuditEvent.objects.in_scopes(visible).matching(
        action=filters.get("action", ""),
        actor_type=filters.get("actorType", ""),
        target_type=filters.get("targetType", ""),
        target_id=filters.get("targetId"),
    )
    if "serviceAccountId" in filters:
        events = events.about_service_account(filters["serviceAccountId"])
    if filters:
        return events, events.count()
    keys = [SERVER_SCOPE if scope is None else scope for scope in visible]
    total = AuditTally.objects.filter(scope__in=keys).aggregate(total=Sum("events"))["total"]
    return events, total or 0
