"""Writes that touch organizations, users and memberships. The UI, the API and the
management commands all call these, so the rules live here once."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import MAIN_ORG_ID, Membership, Organization, User
from accounts.names import name_key
from accounts.roles import Role


class Conflict(Exception):
    """A unique name or membership already exists."""


def _clean_org_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("Organization name is required.")
    if len(name) > 190:
        raise ValidationError("Organization name must be at most 190 characters.")
    return name


@transaction.atomic
def org_create(*, name: str, creator: User | None = None) -> Organization:
    """Create an org; its creator (if any) becomes its Admin, as in Grafana."""
    name = _clean_org_name(name)
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
    if User.objects.filter(username=login).exists() or (
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
