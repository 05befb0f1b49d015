"""The one place that decides who may see and do what.

Every org-owned lookup goes through ``scoped_get`` (another org's object is a 404, exactly
like a missing one) and every role decision through ``require_role`` / ``check_role_ceiling``.
UI views get their ``Identity`` from ``org_view``; API views from ``accounts.api_auth``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from accounts.errors import NotFound, RoleCeilingExceeded
from accounts.models import Membership, Organization, ServiceAccount, User
from accounts.roles import Role

IdentityKind = Literal["user", "service-account", "api-key"]
ModelT = TypeVar("ModelT", bound=models.Model)
ViewT = TypeVar("ViewT", bound=Callable[..., HttpResponse])

MAX_DB_ID = 2**63 - 1
_ID_RE = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is acting, in which org, with which role; the same for browser and API callers."""

    kind: IdentityKind
    org: Organization
    role: Role
    user: User | None = None
    credential_id: int | None = None  # the ServiceAccount (or unmigrated ApiKey) acting
    is_server_admin: bool = False

    def has_role(self, role: Role) -> bool:
        return self.is_server_admin or Role(self.role).includes(role)


class SignedInRequest(HttpRequest):
    """A request past ``login_required`` (for type checkers): its user is one of ours."""

    user: User
    htmx: HtmxDetails


class AppRequest(SignedInRequest):
    """A request as org views and the API see it: with the caller's ``Identity``, set by
    ``org_view`` or ``api_view``."""

    identity: Identity


def identity_for_user(user: User, org: Organization) -> Identity | None:
    """The user's identity in ``org``, or None if they are not a member.

    Server admins act as Admin in every org, member or not.
    """
    membership = Membership.objects.filter(user=user, org=org).only("role").first()
    if membership is None and not user.is_superuser:
        return None
    return Identity(
        kind="user",
        org=org,
        role=Role(membership.role) if membership else Role.ADMIN,
        user=user,
        is_server_admin=user.is_superuser,
    )


def current_identity(user: User) -> Identity | None:
    """The user's identity in their current org, falling back to their first org."""
    if user.current_org is not None:
        identity = identity_for_user(user, user.current_org)
        if identity is not None:
            return identity
    org = orgs_for_user(user).order_by("pk").first()
    return identity_for_user(user, org) if org is not None else None


def orgs_for_user(user: User) -> models.QuerySet[Organization]:
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user)


def require_role(identity: Identity, role: Role) -> None:
    if not identity.has_role(role):
        raise PermissionDenied(f"This requires the {Role(role).label} role in {identity.org}.")


def require_server_admin(identity: Identity) -> None:
    if not identity.is_server_admin:
        raise PermissionDenied("Permission denied: server admin only")


def check_role_ceiling(identity: Identity, role: Role) -> None:
    """Nobody hands out a role above their own."""
    if not identity.has_role(role):
        raise RoleCeilingExceeded()


def assignable_roles(identity: Identity) -> list[Role]:
    return [role for role in Role if identity.has_role(role)]


def parse_id(value: object) -> int:
    """A database id from a URL or body, or Http404 for anything that cannot be one."""
    text = str(value)
    # Plain ASCII digits only, so one object has one URL ("+5", "0_5" are not ids).
    if not _ID_RE.fullmatch(text) or not 0 < int(text) <= MAX_DB_ID:
        raise Http404
    return int(text)


def get_or_404(queryset: models.QuerySet[ModelT], pk: object, message: str = "") -> ModelT:
    """``queryset``'s object with this id, or 404. The queryset must already be scoped."""
    obj = queryset.filter(pk=parse_id(pk)).first()
    if obj is None:
        raise Http404(message)
    return obj


def scoped_get(identity: Identity, queryset: models.QuerySet[ModelT], pk: object) -> ModelT:
    """Fetch an org-owned object by id within the caller's org; otherwise 404."""
    return get_or_404(queryset.filter(org=identity.org), pk)


def get_service_account(identity: Identity, pk: object) -> ServiceAccount:
    return scoped_get(identity, ServiceAccount.objects.all(), pk)


def get_org(identity: Identity, pk: object) -> Organization:
    """An org the caller may act on, by id: any for a server admin, otherwise only their own;
    anything else is a 404."""
    orgs = Organization.objects.all()
    if not identity.is_server_admin:
        orgs = orgs.filter(pk=identity.org.pk)
    return get_or_404(orgs, pk, "Organization not found")


def org_view(min_role: Role = Role.ADMIN) -> Callable[[ViewT], ViewT]:
    """Decorate a browser view: signed in, member of an org, holding at least ``min_role``.

    Sets ``request.identity``; a too-low role gets the friendly 403 page, and a service's
    ``NotFound`` the 404 page. Put it outermost (before the HTTP method check), so a too-low
    role is refused whatever the method. The wrapper keeps ``min_role``: the access walk in
    ``tests/test_access.py`` reads it.
    """

    def decorator(view: ViewT) -> ViewT:
        @wraps(view)
        def wrapper(request: AppRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            identity = current_identity(request.user)
            if identity is None:
                raise PermissionDenied("You are not a member of any organization yet.")
            request.identity = identity
            require_role(identity, min_role)
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc

        wrapper.min_role = min_role  # type: ignore[attr-defined]
        return cast(ViewT, wrapper)

    return decorator
