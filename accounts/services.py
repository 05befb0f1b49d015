"""Writes that touch organizations, users and memberships. The UI, the API and the
management commands all call these, so the rules live here once."""

from __future__ import annotations

import unicodedata

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import Http404

from accounts.access import Identity, check_role_ceiling
from accounts.models import MAIN_ORG_ID, Membership, Organization, ServiceAccount, User
from accounts.names import fits, login_slug, name_key
from accounts.roles import Role


class Conflict(Exception):
    """A unique name or membership already exists."""


@transaction.atomic
def org_create(*, name: str, creator: User | None = None) -> Organization:
    """Create an org; its creator (if any) becomes its Admin, as in Grafana."""
    name = clean_name(name, what="Organization name", max_length=190)
    if Organization.objects.filter(name_key=name_key(name)).exists():
        raise Conflict("Organization name taken")
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name)
    except IntegrityError:
        raise Conflict("Organization name taken") from None
    if creator is not None:
        Membership.objects.create(org=org, user=creator, role=Role.ADMIN)
    return org


@transaction.atomic
def user_create(
    *,
    login: str,
    email: str = "",
    name: str = "",
    password: str,
    org: Organization | None = None,
    role: Role = Role.VIEWER,
    is_server_admin: bool = False,
) -> User:
    """Create a user and make them a member of ``org`` (Main Org. by default)."""
    login = login.strip() or email.strip()
    if not login:
        raise ValidationError("A login or an email is required.")
    login = clean_name(login, what="Login", max_length=User.LOGIN_MAX_LENGTH)
    name = clean_name(name, what="Name", max_length=190) if name.strip() else ""
    if email:
        validate_email(email)
    if User.objects.filter(username__iexact=login).exists() or (
        email and User.objects.filter(email__iexact=email).exists()
    ):
        raise Conflict("User with same login or email already exists")
    user = User(username=login, email=email.strip(), name=name.strip())
    validate_password(password, user)
    user.set_password(password)
    user.is_superuser = user.is_staff = is_server_admin
    if org is None:
        org = Organization.objects.filter(pk=MAIN_ORG_ID).first()
    user.current_org = org
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict("User with same login or email already exists") from None
    if org is not None:
        Membership.objects.create(org=org, user=user, role=role)
    return user


def membership_add(*, org: Organization, user: User, role: Role) -> Membership:
    if Membership.objects.filter(org=org, user=user).exists():
        raise Conflict("User is already member of this organization")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(org=org, user=user, role=role)
    except IntegrityError:
        raise Conflict("User is already member of this organization") from None
    if user.current_org_id is None:
        user.current_org = org
        user.save(update_fields=["current_org"])
    return membership


def switch_org(*, user: User, org: Organization) -> None:
    user.current_org = org
    user.save(update_fields=["current_org"])


# --- Service accounts ---------------------------------------------------------------------


def clean_name(name: str, *, what: str, max_length: int) -> str:
    """A display name, trimmed: 1 to ``max_length`` characters, no control characters."""
    name = name.strip()
    if not name:
        raise ValidationError(f"{what} is required.")
    if not fits(name, max_length):
        raise ValidationError(f"{what} must be at most {max_length} characters.")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise ValidationError(f"{what} cannot contain control characters.")
    return name


def clean_service_account_name(name: str) -> str:
    return clean_name(name, what="Display name", max_length=ServiceAccount.NAME_MAX_LENGTH)


def _ensure_name_free(org_id: int, name: str, *, exclude_pk: int | None = None) -> None:
    taken = ServiceAccount.objects.filter(org_id=org_id, name_key=name_key(name))
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict(f"A service account named '{name}' already exists.")


@transaction.atomic
def service_account_create(
    *, identity: Identity, name: str, role: Role = Role.VIEWER, is_disabled: bool = False
) -> ServiceAccount:
    """Create a service account in the caller's org, never with a role above the caller's."""
    check_role_ceiling(identity, role)
    name = clean_service_account_name(name)
    org = identity.org
    _ensure_name_free(org.pk, name)
    login = f"sa-{org.pk}-{login_slug(name)}"
    if len(login) > ServiceAccount.LOGIN_MAX_LENGTH:
        raise ValidationError("Display name is too long to derive a login from.")
    if ServiceAccount.objects.filter(login=login).exists():
        raise Conflict(
            f"The login '{login}' derived from this name is already used by another "
            "service account; choose a different name."
        )
    account = ServiceAccount(
        org=org,
        name=name,
        login=login,
        role=role,
        is_disabled=is_disabled,
        created_by=identity.user,
    )
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:  # a concurrent request took the name or login first
        raise Conflict(f"A service account named '{name}' already exists.") from None
    return account


@transaction.atomic
def service_account_update(
    *,
    identity: Identity,
    account: ServiceAccount,
    name: str | None = None,
    role: Role | None = None,
    is_disabled: bool | None = None,
) -> ServiceAccount:
    """Rename (the login stays), change the role, or disable/enable; all or nothing.

    The row is locked and re-read, so concurrent edits don't overwrite each other and an
    edit racing a delete cannot bring the account back.
    """
    if name is not None:
        name = clean_service_account_name(name)
        _ensure_name_free(account.org_id, name, exclude_pk=account.pk)
    if role is not None:
        check_role_ceiling(identity, role)
    locked = ServiceAccount.objects.select_for_update().filter(pk=account.pk).first()
    if locked is None:
        raise Http404
    changes = {"name": name, "role": role, "is_disabled": is_disabled}
    changed = [field for field, value in changes.items() if value is not None]
    for field in changed:
        setattr(locked, field, changes[field])
    try:
        with transaction.atomic():
            locked.save(update_fields=[*changed, "name_key", "updated_at"] if changed else None)
    except IntegrityError:
        raise Conflict(f"A service account named '{name}' already exists.") from None
    return locked


@transaction.atomic
def service_account_delete(*, account: ServiceAccount) -> None:
    """Delete the account and, in the same transaction, every token it has."""
    account.delete()
