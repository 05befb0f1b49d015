"""The one place that decides who may see and do what.

Every org-owned lookup goes through ``scoped_get`` (another org's object is a 404, exactly
like a missing one); every role decision through ``check_role_ceiling`` and its kin;
every permission decision through ``has_permission`` / ``require_permission`` and the grant
ceiling ``check_grant_ceiling``. UI views get their ``Identity`` from ``org_view``; API views
from ``accounts.api_auth`` (and ``accounts.api_base.api_view`` checks their permission).

Effective permissions (DESIGN §11): an Admin (or server admin) holds every permission; anyone
else holds their grants: a service account its individual ones, its teams' and Everyone's; a
user their teams' and Everyone's; an unmigrated legacy key nothing beyond its role. They are
read once per request, on first need, and cached on the request's ``Identity`` only, so a change
applies to the next request of every token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import wraps
from typing import Any, Literal, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from accounts.errors import (
    GrantCeilingExceeded,
    MissingPermission,
    NotFound,
    RequirementNotMet,
    RoleCeilingExceeded,
)
from accounts.models import Membership, Organization, ServiceAccount, Team, User
from accounts.network import client_address
from accounts.roles import Role
from accounts.teams import catalogue
from accounts.teams.models import (
    ServerGrant,
    catalogue_names,
    held_permissions,
    permission_sources,
)

IdentityKind = Literal["user", "service-account", "api-key"]
ModelT = TypeVar("ModelT", bound=models.Model)
ViewT = TypeVar("ViewT", bound=Callable[..., HttpResponse])

MAX_DB_ID = 2**63 - 1
_ID_RE = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class Credential:
    """The token (or legacy key) behind an API identity, as ``/api/auth/verify`` and token
    introspection report it; read by the same lookup that authenticated it."""

    kind: Literal["token", "api-key"]
    id: int
    login: str  # the service account's; empty for an unmigrated legacy key
    name: str  # the service account's display name (an unmigrated key's own name)
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is acting, in which org, with which role; the same for browser and API callers."""

    kind: IdentityKind
    org: Organization
    role: Role
    user: User | None = None
    credential_id: int | None = None  # the ServiceAccount (or unmigrated ApiKey) acting
    credential: Credential | None = None  # how a token or key authenticated (API only)
    is_server_admin: bool = False
    address: str | None = None  # the client's (accounts.network), for the audit log
    # Per-request memo of what the database said (see ``held_by``); never shared.
    cache: dict[str, frozenset[str]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def has_role(self, role: Role) -> bool:
        return self.is_server_admin or Role(self.role).includes(role)

    @property
    def is_admin(self) -> bool:
        """Org Admin (or server admin): holds every permission."""
        return self.has_role(Role.ADMIN)


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


def has_server_permission(identity: Identity, name: str) -> bool:
    """A server-level permission: every server admin holds it; a service account when a
    server admin gave it to that account (``ServerGrant``), whichever its org."""
    if identity.is_server_admin:
        return True
    return (
        identity.kind == "service-account"
        and ServerGrant.objects.filter(
            permission=name, service_account_id=identity.credential_id
        ).exists()
    )


def require_server_permission(identity: Identity, name: str) -> None:
    if not has_server_permission(identity, name):
        raise MissingPermission([name])


def require_server_admin(identity: Identity) -> None:
    if not identity.is_server_admin:
        raise PermissionDenied("Permission denied: server admin only")


def check_role_ceiling(identity: Identity, role: Role) -> None:
    """Nobody hands out a role above their own."""
    if not identity.has_role(role):
        raise RoleCeilingExceeded()


def assignable_roles(identity: Identity) -> list[Role]:
    return [role for role in Role if identity.has_role(role)]


def check_can_manage_role(identity: Identity, current_role: Role) -> None:
    """Nobody changes or removes a member whose role is above their own."""
    if not identity.has_role(current_role):
        raise RoleCeilingExceeded("Cannot change a member whose role is higher than yours")


def check_can_manage_account(identity: Identity, account: ServiceAccount) -> None:
    """Nobody changes, deletes or takes the tokens of a service account whose role is above
    their own: ``serviceaccounts:write`` can be granted to Editors and Viewers, and must not
    let them demote, disable or cut off an Admin's automation."""
    if not identity.has_role(Role(account.role)):
        raise RoleCeilingExceeded("Cannot change a service account whose role is higher than yours")


def can_manage_account(identity: Identity, account: ServiceAccount) -> bool:
    """Whether to offer the account's manage actions (edit, disable, delete, its tokens and
    permissions): the views' ``serviceaccounts:write`` and ``check_can_manage_account``."""
    if not has_permission(identity, catalogue.SERVICEACCOUNTS_WRITE):
        return False
    try:
        check_can_manage_account(identity, account)
    except RoleCeilingExceeded:
        return False
    return True


def require_user_identity(identity: Identity) -> None:
    """Some changes need a person: a leaked token must not plant a lasting human member."""
    if identity.kind != "user":
        raise PermissionDenied("Only users can do this; tokens and API keys cannot.")


# --- Permissions ----------------------------------------------------------------------------

# Holding the key implies holding the values' permissions too.
IMPLIED_BY: dict[str, tuple[str, ...]] = {
    catalogue.SERVICEACCOUNTS_READ: (catalogue.SERVICEACCOUNTS_WRITE,),
}

# What a view needs: one permission, any of several, or (None) just membership of the org.
Needed = str | tuple[str, ...] | None

# Reading what has no permission of its own; pages and API endpoints use the same ones.
READ_TEAMS: Needed = catalogue.TEAMS_WRITE  # teams show who holds what
READ_ORG_USERS: Needed = (catalogue.USERS_WRITE, catalogue.TEAMS_WRITE)  # team managers pick them
READ_CATALOGUE: Needed = None  # it names capabilities, not who holds them


def held_by(identity: Identity) -> frozenset[str]:
    """The permissions granted to the caller (individually, through teams and Everyone).

    One query on first use in a request, then cached on the identity, which lives for one
    request only. Admin implies more than this: ask ``has_permission``.
    """
    held = identity.cache.get("held")
    if held is None:
        if identity.kind == "user" and identity.user is not None:
            held = held_permissions(org_id=identity.org.pk, user_id=identity.user.pk)
        elif identity.kind == "service-account" and identity.credential_id is not None:
            held = held_permissions(
                org_id=identity.org.pk, service_account_id=identity.credential_id
            )
        else:  # an unmigrated legacy key acts with its role alone
            held = frozenset()
        identity.cache["held"] = held
    return held


def effective_permissions(identity: Identity) -> frozenset[str]:
    """Everything in the org's catalogue for an Admin, else what the caller holds."""
    if identity.is_admin:
        return frozenset(catalogue_names(identity.org))
    return held_by(identity)


def has_permission(identity: Identity, name: str) -> bool:
    """Admin (no query needed), or holding ``name`` or a permission that implies it."""
    if identity.is_admin:
        return True
    held = held_by(identity)
    return name in held or any(other in held for other in IMPLIED_BY.get(name, ()))


def require_permission(identity: Identity, name: str) -> None:
    if not has_permission(identity, name):
        raise MissingPermission([name])


def require_any_permission(identity: Identity, *names: str) -> None:
    if not any(has_permission(identity, name) for name in names):
        raise MissingPermission(names)


def require_access(identity: Identity, needed: Needed) -> None:
    """The check behind ``org_view`` and ``api_view``: see ``Needed``."""
    if isinstance(needed, str):
        require_permission(identity, needed)
    elif needed is not None:
        require_any_permission(identity, *needed)


def check_requirements(
    identity: Identity, *, permissions: Iterable[str] = (), role: Role | None = None
) -> None:
    """What a service behind forward auth asks of a credential: at least ``role``, and every
    one of ``permissions``. The message names the first thing missing."""
    if role is not None and not identity.has_role(role):
        raise RequirementNotMet(f"missing role {role.value}")
    for name in permissions:
        if not has_permission(identity, name):
            raise RequirementNotMet(f"missing permission {name}")


def check_grant_ceiling(identity: Identity, names: Iterable[str]) -> None:
    """Nobody grants a permission they do not hold themselves (directly, or by adding a
    principal to a team that holds it, or by minting a token of an account that holds it)."""
    missing = {name for name in names if not has_permission(identity, name)}
    if missing:
        raise GrantCeilingExceeded(missing)


def check_can_act_as(identity: Identity, account: ServiceAccount) -> None:
    """Creating a token hands out the account's powers: only to someone who has them."""
    if not identity.has_role(Role(account.role)):
        raise RoleCeilingExceeded(
            "Cannot create a token for a service account whose role is higher than yours"
        )
    if not identity.is_admin:
        check_grant_ceiling(
            identity, held_permissions(org_id=account.org_id, service_account_id=account.pk)
        )


def effective_permission_sources(account: ServiceAccount) -> list[tuple[str, list[str]]]:
    """What an account may do and why, in catalogue order: ``individual``, ``role:Admin``,
    ``team:<name>`` (Everyone included)."""
    granted = permission_sources(account)
    is_admin = Role(account.role) == Role.ADMIN
    result = []
    for name in catalogue_names(account.org_id):
        sources = granted.get(name, [])
        if is_admin:
            individual = [source for source in sources if source == "individual"]
            sources = [*individual, f"role:{Role.ADMIN.value}", *sources[len(individual) :]]
        if sources:
            result.append((name, sources))
    return result


def parse_id(value: object) -> int:
    """A database id from a URL or body, or Http404 for anything that cannot be one."""
    text = str(value)
    # Plain ASCII digits only, so one object has one URL ("+5", "0_5" are not ids).
    if not _ID_RE.fullmatch(text) or not 0 < int(text) <= MAX_DB_ID:
        raise Http404
    return int(text)


def get_or_404(
    queryset: models.QuerySet[ModelT], pk: object, message: str = "", *, lookup: str = "pk"
) -> ModelT:
    """``queryset``'s object with this id, or 404. The queryset must already be scoped."""
    obj = queryset.filter(**{lookup: parse_id(pk)}).first()
    if obj is None:
        raise Http404(message)
    return obj


def scoped_get(identity: Identity, queryset: models.QuerySet[ModelT], pk: object) -> ModelT:
    """Fetch an org-owned object by id within the caller's org; otherwise 404."""
    return get_or_404(queryset.filter(org=identity.org), pk)


def get_service_account(identity: Identity, pk: object) -> ServiceAccount:
    return scoped_get(identity, ServiceAccount.objects.all(), pk)


def get_team(identity: Identity, pk: object) -> Team:
    return scoped_get(identity, Team.objects.all(), pk)


def get_member(identity: Identity, user_id: object) -> Membership:
    """A member of the caller's org by user id (with the user loaded), or 404."""
    members = Membership.objects.filter(org=identity.org).select_related("user")
    return get_or_404(members, user_id, lookup="user_id")


def get_org(identity: Identity, pk: object) -> Organization:
    """An org the caller may act on, by id: any for a server admin, otherwise only their own;
    anything else is a 404."""
    orgs = Organization.objects.all()
    if not identity.is_server_admin:
        orgs = orgs.filter(pk=identity.org.pk)
    return get_or_404(orgs, pk, "Organization not found")


def org_view(needed: Needed) -> Callable[[ViewT], ViewT]:
    """Decorate a browser view: signed in, member of an org, and holding ``needed`` (a
    permission, any of a tuple of them, or None for any member; Admin holds all).

    Sets ``request.identity``; a missing permission gets the friendly 403 page, and a
    service's ``NotFound`` the 404 page. Put it outermost (before the HTTP method check), so a
    missing permission is refused whatever the method. The wrapper keeps ``needed``: the
    access walk in ``tests/test_access.py`` reads it.
    """

    def decorator(view: ViewT) -> ViewT:
        @wraps(view)
        def wrapper(request: AppRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            identity = current_identity(request.user)
            if identity is None:
                raise PermissionDenied("You are not a member of any organization yet.")
            request.identity = identity = replace(identity, address=client_address(request))
            require_access(identity, needed)
            return _render_page(view, request, *args, **kwargs)

        wrapper.needed = needed  # type: ignore[attr-defined]
        return cast(ViewT, wrapper)

    return decorator


def _render_page(view: Callable[..., HttpResponse], *args: Any, **kwargs: Any) -> HttpResponse:
    """A page view whose service said ``NotFound`` answers the 404 page."""
    try:
        return view(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def server_admin_view(view: ViewT) -> ViewT:
    """Decorate a Server admin page: signed in, and a server admin (else the 403 page,
    whatever the method). A service's ``NotFound`` is the 404 page. Put it outermost; the
    wrapper's ``server_admin_only`` lets ``tests/test_access.py`` find it."""

    @wraps(view)
    def wrapper(request: SignedInRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_superuser:
            raise PermissionDenied("Only server admins may use this page.")
        return _render_page(view, request, *args, **kwargs)

    wrapper.server_admin_only = True  # type: ignore[attr-defined]
    return cast(ViewT, wrapper)
