"""The permission names Keyhouse knows: its own built-in ones and the rules for custom ones.

A permission is ``<area>:<action>``. Built-in permissions govern Keyhouse itself and exist in
every org; custom ones are defined per org (``accounts.teams.models.Permission``) for the org's
own APIs. Admin implies every permission; that rule lives in ``accounts.access``.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

SERVICEACCOUNTS_READ = "serviceaccounts:read"
SERVICEACCOUNTS_WRITE = "serviceaccounts:write"
APIKEYS_WRITE = "apikeys:write"
TEAMS_WRITE = "teams:write"
USERS_WRITE = "users:write"
TOKENS_INTROSPECT = "tokens:introspect"
AUDIT_READ = "audit:read"
# Server level: held by server admins, and given by them to one service account (of any org).
TOKENS_REPORT_LEAK = "tokens:report-leak"

# In the order the catalogue lists them.
BUILTIN_PERMISSIONS: dict[str, str] = {
    SERVICEACCOUNTS_READ: "List and view service accounts and their tokens.",
    SERVICEACCOUNTS_WRITE: (
        "Create, edit, disable and delete service accounts, and add or delete their tokens."
    ),
    APIKEYS_WRITE: "Manage legacy API keys and migrate them to service accounts.",
    TEAMS_WRITE: "Manage teams, their members and permissions, and the permission catalogue.",
    USERS_WRITE: "Add and remove organization members and change their roles.",
    TOKENS_INTROSPECT: "Ask Keyhouse whether a token is active (token introspection).",
    AUDIT_READ: "Read the organization's audit log.",
}

SERVER_PERMISSIONS: dict[str, str] = {
    TOKENS_REPORT_LEAK: (
        "Report leaked tokens and API keys of any organization (POST /api/auth/leaked): they "
        "are revoked at once. For a secret scanner's service account."
    ),
}

# How the pages title Keyhouse's own areas; a custom area is shown as it is written.
AREA_LABELS: dict[str, str] = {
    "serviceaccounts": "Service accounts",
    "apikeys": "API keys",
    "teams": "Teams",
    "users": "Users",
    "tokens": "Tokens",
    "audit": "Audit",
}

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 500
NAME_RE = re.compile(r"[a-z][a-z0-9_-]*(:[a-z0-9_.*-]+)+")
# Keyhouse's own areas: a custom "teams:delete" would look enforced while nothing enforces it.
RESERVED_AREAS = frozenset(name.split(":", 1)[0] for name in BUILTIN_PERMISSIONS)


def is_builtin(name: str) -> bool:
    return name in BUILTIN_PERMISSIONS


def area(name: str) -> str:
    """``metrics`` for ``metrics:ingest``: the group a checklist shows the permission under."""
    return name.split(":", 1)[0]


def area_label(name: str) -> str:
    return AREA_LABELS.get(area(name), area(name))


def clean_permission_name(name: str) -> str:
    """A well-formed name for a new custom permission, or ValidationError."""
    name = name.strip()
    if not name:
        raise ValidationError("Permission name is required.")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(f"Permission name must be at most {NAME_MAX_LENGTH} characters.")
    if not NAME_RE.fullmatch(name):
        raise ValidationError(
            "Permission name must look like 'area:action': lower-case letters, digits, '_' "
            "and '-', an area starting with a letter, and actions that may also use '.' and '*'."
        )
    if area(name) in RESERVED_AREAS and not is_builtin(name):
        raise ValidationError(
            f"The area '{area(name)}' is reserved for Keyhouse's built-in permissions."
        )
    return name
