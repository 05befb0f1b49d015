"""The refusals services (and access checks) raise, and how their messages are read.

A service turns a request down by raising a ``Refusal``: its ``message`` is written for the
person or client who asked, and ``status`` is what the JSON API answers with (``api_view``
does that for every subclass). Malformed input is Django's ``ValidationError`` instead, which
forms take as it is. Services never raise ``Http404``: a vanished object is ``NotFound``, which
``org_view`` turns into the 404 page.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError

ROLE_CEILING_MESSAGE = "Cannot assign a role higher than user's role"


class Refusal(Exception):
    """A request turned down on purpose, with a message fit to show whoever made it."""

    status = 400
    default_message = "Bad request"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(Refusal):
    """The object is gone (deleted by a concurrent request) or was never there."""

    status = 404
    default_message = "Not found"


class Conflict(Refusal):
    """A unique name, login or membership is already taken."""

    status = 409


class RoleCeilingExceeded(Refusal, PermissionDenied):
    """Someone tried to hand out a role above their own (a 403 page in the UI too)."""

    status = 403
    default_message = ROLE_CEILING_MESSAGE


def message_of(exc: Refusal | ValidationError) -> str:
    """The text to show for a refusal or a ValidationError, in one line."""
    if isinstance(exc, Refusal):
        return exc.message
    return " ".join(exc.messages)


class MissingPermission(Refusal, PermissionDenied):
    """The caller holds none of the permissions an action needs (a 403 page in the UI too)."""

    status = 403

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        super().__init__(
            "You'll need additional permissions to perform this action. Permissions needed: "
            + " or ".join(self.names)
        )


class RequirementNotMet(Refusal):
    """A valid credential falls short of what a protected service asked for (forward auth)."""

    status = 403


class GrantCeilingExceeded(Refusal, PermissionDenied):
    """Someone tried to grant (directly, through a team or a token) what they do not hold."""

    status = 403

    def __init__(self, missing: Iterable[str]) -> None:
        self.missing = sorted(missing)
        super().__init__(
            "Cannot grant permissions you do not hold yourself: " + ", ".join(self.missing)
        )
