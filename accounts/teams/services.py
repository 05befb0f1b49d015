"""Writes on teams, their members and permissions, and the org's permission catalogue.

The UI and the API both come through here. Every change that decides who may do what locks the
row it decides on (the team, the account, the custom permission), so two requests cannot
interleave into a state neither asked for, and the grant ceiling (``check_grant_ceiling``) is
checked against what is actually in the database when the change is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.access import Identity, check_can_manage_account, check_grant_ceiling
from accounts.audit.services import Actor, Target, record
from accounts.errors import Conflict, NotFound, Refusal
from accounts.models import Membership, ServiceAccount, User
from accounts.services import clean_name, lock_org, save_unique
from accounts.teams.catalogue import (
    DESCRIPTION_MAX_LENGTH,
    SERVER_PERMISSIONS,
    clean_permission_name,
    is_builtin,
)
from accounts.teams.models import (
    Grant,
    Permission,
    ServerGrant,
    ServiceAccountPermission,
    Team,
    TeamMember,
    TeamPermission,
    storable,
)

EVERYONE_IS_FIXED = "The Everyone team is built in: it cannot be renamed, deleted or left."
EVERYONE_MEMBERS = (
    "Everyone's members are implicit: every user and service account of the organization "
    "belongs to it."
)


# --- The permission catalogue ---------------------------------------------------------------


@transaction.atomic
def permission_create(*, identity: Identity, name: str, description: str = "") -> Permission:
    """Define a custom permission in the caller's org. A malformed name or description is a
    ValidationError naming its field (``name`` or ``description``), for forms to place."""
    try:
        name = clean_permission_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    description = description.strip()
    if description:
        try:
            description = clean_name(
                description, what="Description", max_length=DESCRIPTION_MAX_LENGTH
            )
        except ValidationError as exc:
            raise ValidationError({"description": exc.messages}) from None
    taken = f"A permission named '{name}' already exists."
    if is_builtin(name):
        raise Conflict(taken)
    org = lock_org(identity.org.pk)  # not being deleted meanwhile: a 404 rather than a 500
    permission = Permission(org=org, name=name, description=description)
    save_unique(permission, conflict=taken)
    record("permission.create", actor=identity, target=permission)
    return permission


@transaction.atomic
def permission_delete(*, identity: Identity, name: str) -> None:
    """Delete a custom permission and, in the same transaction, every grant of it."""
    if is_builtin(name):
        raise Refusal(f"'{name}' is a built-in permission and cannot be deleted.")
    org = identity.org
    # Locked: a concurrent grant of it waits, then finds it gone (see _resolve_names).
    permission = Permission.objects.select_for_update().named(org, name).first()
    if permission is None:
        raise NotFound(f"No permission named '{name}'.")
    TeamPermission.objects.filter(team__org=org, permission=name).delete()
    ServiceAccountPermission.objects.filter(service_account__org=org, permission=name).delete()
    target = Target.of(permission)
    permission.delete()
    record("permission.delete", actor=identity, target=target)


def _resolve_names(identity: Identity, names: Iterable[str]) -> set[str]:
    """The distinct names, each built in or a custom permission of the caller's org (whose
    rows stay locked until the transaction ends); an unknown one is a ValidationError."""
    wanted = set(names)
    custom = {name for name in wanted if not is_builtin(name)}
    found = set(
        Permission.objects.select_for_update()
        .filter(org=identity.org, name__in=filter(storable, custom))
        .values_list("name", flat=True)
    )
    unknown = sorted(custom - found)
    if unknown:
        raise ValidationError(
            f"Unknown permission{'s' if len(unknown) > 1 else ''}: "
            + ", ".join(repr(name) for name in unknown)
        )
    return wanted


GrantT = TypeVar("GrantT", bound=Grant)


def _replace_grants(
    *,
    identity: Identity,
    current: models.QuerySet[GrantT],
    wanted: Iterable[str],
    make: type[GrantT],
    holder: Team | ServiceAccount,
) -> list[str]:
    """Make the grants in ``current`` exactly ``wanted``. Only additions face the grant
    ceiling: anyone allowed to manage the holder may take a permission away."""
    names = _resolve_names(identity, wanted)
    held = set(current.values_list("permission", flat=True))
    check_grant_ceiling(identity, names - held)
    current.exclude(permission__in=names).delete()
    make._default_manager.bulk_create(
        [make(permission=name, **{make.HOLDER: holder}) for name in sorted(names - held)]
    )
    if names != held:
        action = "team.permissions" if isinstance(holder, Team) else "serviceaccount.permissions"
        details = {"granted": sorted(names - held), "revoked": sorted(held - names)}
        record(action, actor=identity, target=holder, details=details)
    return sorted(names)


@transaction.atomic
def team_permissions_set(
    *, identity: Identity, team: Team, permissions: Iterable[str]
) -> list[str]:
    """Replace the team's permissions (Everyone's too); returns the new set, sorted."""
    team = _lock_team(team)
    return _replace_grants(
        identity=identity,
        current=TeamPermission.objects.filter(team=team),
        wanted=permissions,
        make=TeamPermission,
        holder=team,
    )


@transaction.atomic
def service_account_permissions_set(
    *, identity: Identity, account: ServiceAccount, permissions: Iterable[str]
) -> list[str]:
    """Replace the account's individual permissions; returns the new set, sorted."""
    locked = ServiceAccount.objects.select_for_update().filter(pk=account.pk).first()
    if locked is None:
        raise NotFound()
    check_can_manage_account(identity, locked)
    return _replace_grants(
        identity=identity,
        current=ServiceAccountPermission.objects.filter(service_account=account),
        wanted=permissions,
        make=ServiceAccountPermission,
        holder=account,
    )


# --- Teams ----------------------------------------------------------------------------------


def _clean_team_name(name: str) -> str:
    return clean_name(name, what="Team name", max_length=Team.NAME_MAX_LENGTH)


def _clean_email(email: str) -> str:
    email = email.strip()
    if email:
        if len(email) > Team.EMAIL_MAX_LENGTH:
            raise ValidationError(f"Email must be at most {Team.EMAIL_MAX_LENGTH} characters.")
        validate_email(email)
    return email


def _name_taken(name: str) -> str:
    return f"A team named '{name}' already exists."


def _lock_team(team: Team) -> Team:
    """The team's row, locked and re-read; NotFound if a concurrent request deleted it."""
    locked = Team.objects.select_for_update().filter(pk=team.pk).first()
    if locked is None:
        raise NotFound()
    return locked


@transaction.atomic
def team_create(*, identity: Identity, name: str, email: str = "") -> Team:
    org = lock_org(identity.org.pk)  # not being deleted meanwhile: a 404 rather than a 500
    team = Team(org=org, name=_clean_team_name(name), email=_clean_email(email))
    save_unique(team, conflict=_name_taken(team.name))
    record("team.create", actor=identity, target=team, details={"email": team.email})
    return team


@transaction.atomic
def team_update(*, identity: Identity, team: Team, name: str, email: str = "") -> Team:
    """Rename and set the e-mail (Grafana's PUT replaces both); Everyone is refused."""
    name, email = _clean_team_name(name), _clean_email(email)
    team = _lock_team(team)
    if team.is_everyone:
        raise Refusal(EVERYONE_IS_FIXED)
    details = {
        field: {"from": old, "to": new}
        for field, old, new in (("name", team.name, name), ("email", team.email, email))
        if old != new
    }
    team.name, team.email = name, email
    save_unique(team, conflict=_name_taken(name), update_fields=["name", "email", "updated_at"])
    if details:
        record("team.update", actor=identity, target=team, details=details)
    return team


@transaction.atomic
def team_delete(*, identity: Identity, team: Team) -> None:
    """Delete a team with its memberships and grants; Everyone is refused."""
    team = _lock_team(team)
    if team.is_everyone:
        raise Refusal(EVERYONE_IS_FIXED)
    target = Target.of(team)
    team.delete()
    record("team.delete", actor=identity, target=target)


@transaction.atomic
def team_member_add(
    *,
    identity: Identity,
    team: Team,
    user: User | None = None,
    service_account: ServiceAccount | None = None,
) -> TeamMember:
    """Add a user or a service account of the team's org.

    Joining a team grants its permissions, so the caller must hold every one of them. The team
    and the principal stay locked until commit: a concurrent delete of either waits, or wins
    and this is a NotFound, never a member pointing at nothing.
    """
    team = _lock_team(team)
    if team.is_everyone:
        raise Refusal(EVERYONE_MEMBERS)
    if user is not None and service_account is None:
        still_there = (
            Membership.objects.select_for_update().filter(org_id=team.org_id, user=user).exists()
        )
        member = TeamMember(team=team, user=user)
        already = "User is already a member of this team."
    elif service_account is not None and user is None:
        still_there = (
            ServiceAccount.objects.select_for_update()
            .filter(org_id=team.org_id, pk=service_account.pk)
            .exists()
        )
        member = TeamMember(team=team, service_account=service_account)
        already = "Service account is already a member of this team."
    else:
        raise ValueError("add exactly one of user or service_account")
    if not still_there:
        raise NotFound()
    check_grant_ceiling(identity, team.grants.values_list("permission", flat=True))
    save_unique(member, conflict=already)
    record("team.member.add", actor=identity, target=team, details=_member(user, service_account))
    return member


def _member(user: User | None, service_account: ServiceAccount | None) -> dict[str, Any]:
    """The details of a team membership event: who joined or left."""
    principal = Target.of(user if user is not None else service_account)
    return {"member": {"type": principal.type, "id": principal.id, "name": principal.name}}


@transaction.atomic
def team_member_remove(
    *,
    identity: Identity,
    team: Team,
    user: User | None = None,
    service_account: ServiceAccount | None = None,
) -> None:
    """Take a user or service account out of a team (no ceiling: removing never grants)."""
    if (user is None) == (service_account is None):
        raise ValueError("remove exactly one of user or service_account")
    if team.is_everyone:
        raise Refusal(EVERYONE_IS_FIXED)
    members = TeamMember.objects.filter(team=team)
    if user is not None:
        members = members.filter(user=user)
    else:
        members = members.filter(service_account=service_account)
    deleted, _ = members.delete()
    if not deleted:
        raise NotFound("Not a member of this team.")
    record(
        "team.member.remove", actor=identity, target=team, details=_member(user, service_account)
    )


# --- Server grants --------------------------------------------------------------------------


def _server_permission(permission: str) -> str:
    if permission not in SERVER_PERMISSIONS:
        raise NotFound(f"Unknown server permission '{permission}'.")
    return permission


def _lock_server_grant(permission: str) -> ServerGrant | None:
    return (
        ServerGrant.objects.select_for_update(of=("self",))
        .select_related("service_account__org")
        .filter(permission=permission)
        .first()
    )


def _org_of(account: ServiceAccount) -> dict[str, Any]:
    return {"id": account.org_id, "name": account.org.name}


@transaction.atomic
def server_grant_give(
    *, actor: Identity | Actor, permission: str, account: ServiceAccount
) -> ServerGrant:
    """Give a server-level permission to ``account`` (of any org) in place of whichever
    account held it: one holder each. The grant's row stays locked until commit; while
    nobody holds it there is no row to lock, so a concurrent first give makes its insert
    fail, and this one then replaces it. Two gives at once leave one holder, the later."""
    permission = _server_permission(permission)
    locked = (
        ServiceAccount.objects.select_for_update(of=("self",))
        .select_related("org")
        .filter(pk=account.pk)
        .first()
    )
    if locked is None:
        raise NotFound("Service account not found")
    details: dict[str, Any] = {"permission": permission, "org": _org_of(locked)}
    while (grant := _lock_server_grant(permission)) is None:
        try:
            with transaction.atomic():
                grant = ServerGrant.objects.create(permission=permission, service_account=locked)
        except IntegrityError:  # a concurrent first give committed meanwhile
            continue
        record("servergrant.give", actor=actor, org=None, target=locked, details=details)
        return grant
    if grant.service_account_id == locked.pk:
        return grant
    previous = grant.service_account
    details["replaced"] = {"id": previous.pk, "name": previous.name, "org": _org_of(previous)}
    grant.service_account, grant.created_at = locked, timezone.now()
    grant.save(update_fields=["service_account", "created_at"])
    record("servergrant.give", actor=actor, org=None, target=locked, details=details)
    return grant


@transaction.atomic
def server_grant_remove(*, actor: Identity | Actor, permission: str) -> None:
    """Take a server-level permission away from the account holding it."""
    permission = _server_permission(permission)
    grant = _lock_server_grant(permission)
    if grant is None:
        raise NotFound(f"No service account holds '{permission}'.")
    account = grant.service_account
    grant.delete()
    details = {"permission": permission, "org": _org_of(account)}
    record("servergrant.remove", actor=actor, org=None, target=account, details=details)
