"""The permission checklist that the team page and the service-account page share: the org's
catalogue grouped by area, what the holder has, what the caller may grant, and how a save
answers (the checklist again for htmx, the page without JavaScript)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render

from accounts.access import AppRequest, Identity, has_permission
from accounts.errors import NotFound, Refusal, message_of
from accounts.teams.catalogue import area_label
from accounts.teams.forms import PermissionsForm
from accounts.teams.models import catalogue, catalogue_names
from accounts.ui import form_answer

PERMISSIONS_CHANGED = "permissionsChanged"


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    name: str
    description: str
    builtin: bool
    checked: bool
    # The grant ceiling: the caller holds it, or it is granted already (and may be taken away).
    grantable: bool


@dataclass(frozen=True, slots=True)
class ChecklistGroup:
    label: str
    items: list[ChecklistItem]


def permission_checklist(identity: Identity, checked: Iterable[str]) -> list[ChecklistGroup]:
    """Every permission of the caller's org, built-in areas first, grouped by area."""
    held = set(checked)
    groups: dict[str, list[ChecklistItem]] = {}
    for name, description, builtin in catalogue(identity.org):
        item = ChecklistItem(
            name=name,
            description=description,
            builtin=builtin,
            checked=name in held,
            grantable=name in held or has_permission(identity, name),
        )
        groups.setdefault(area_label(name), []).append(item)
    return [ChecklistGroup(label, items) for label, items in groups.items()]


def save_checklist(request: AppRequest, replace: Callable[[list[str]], object]) -> str:
    """Check the posted names against the catalogue and ``replace`` the holder's set with them
    (a service); returns the refusal to show, or "" when saved."""
    form = PermissionsForm(request.POST, names=catalogue_names(request.identity.org))
    if not form.is_valid():
        return " ".join(str(error) for error in form.errors["permission"])
    try:
        replace(form.cleaned_data["permission"])
    except NotFound:
        raise  # the holder is gone: the 404 page
    except (Refusal, ValidationError) as exc:
        return message_of(exc)
    return ""


def checklist_answer(
    request: AppRequest,
    *,
    error: str,
    page: str,
    partial: str,
    context: dict[str, Any],
    next_url: str,
) -> HttpResponse:
    """The checklist again for htmx (saved, or with the refusal), the page without JavaScript."""
    context = {**context, "permissions_error": error}
    return form_answer(
        request,
        done="" if error else "Permissions saved.",
        event=PERMISSIONS_CHANGED,
        partial=partial,
        context=context,
        page=lambda: render(request, page, context),
        next_url=next_url,
    )
