"""Writes that touch organizations, users and memberships, and the write helpers every app's
services share. The UI, the API and the management commands all call these, so the rules
live here once."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, router, transaction
from django.db.models import Q
from django.db.models.deletion import Collector

from accounts.access import (
    Identity,
    check_can_manage_account,
    check_can_manage_role,
    check_role_ceiling,
)
from accounts.audit.models import ActorType
from accounts.audit.services import Actor, Target, record
from accounts.errors import Conflict, NotFound, Refusal
from accounts.models import (
    MAIN_ORG_ID,
    Membership,
    Organization,
    ServiceAccount,
    Team,
    TeamMember,
    User,
)
from accounts.names import fits, is_utf8, login_slug
from accounts.roles import Role

# Far enough for any real credential, small enough that datetime arithmetic cannot overflow.
MAX_SECONDS_TO_LIVE = 100 * 365 * 24 * 3600


def save_unique(
    obj: models.Model,
    *,
    conflict: str,
    field_conflicts: Mapping[str, str] | None = None,
    update_fields: Iterable[str] | None = None,
) -> None:
    """Save ``obj``, or refuse with ``Conflict(conflict)`` when that would break one of its
    model's unique fields or constraints.

    The model's own rules are checked first (``validate_constraints``, then
    ``validate_unique``), so the usual refusal costs no failed write. The save runs in a
    savepoint: a concurrent request that takes the value in between is refused the same way
    instead of breaking the caller's transaction with an IntegrityError. ``field_conflicts``
    gives a clash on one unique field its own message (a derived login, say).
    """
    obj.clean()  # derived values such as NamedModel.name_key are set here
    try:
        obj.validate_constraints()
        obj.validate_unique()
    except ValidationError as exc:
        clashed = getattr(exc, "error_dict", {})
        specific = [text for name, text in (field_conflicts or {}).items() if name in clashed]
        raise Conflict(specific[0] if specific else conflict) from None
    try:
        with transaction.atomic():
            obj.save(update_fields=update_fields)
    except IntegrityError:
        raise Conflict(conflict) from None


def clean_name(name: str, *, what: str, max_length: int) -> str:
    """A display name, trimmed: 1 to ``max_length`` characters, no control characters."""
    name = name.strip()
    if not name:
        raise ValidationError(f"{what} is required.")
    # U+FFFD is what Django decodes a form's invalid UTF-8 to: refuse it rather than store it.
    if not is_utf8(name) or "\ufffd" in name:
        raise ValidationError(f"{what} must be valid UTF-8 text.")
    if not fits(name, max_length):
        raise ValidationError(f"{what} must be at most {max_length} characters.")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise ValidationError(f"{what} cannot contain control characters.")
    return name


@transaction.atomic
def org_create(
    *, name: str, creator: User | None = None, actor: Identity | Actor | None = None
) -> Organization:
    """Create an org with its Everyone team; its creator (if any) becomes its Admin. The
    audit log has it when someone (``actor``) asked; setup code (fixtures, the bench) has none."""
    org = Organization(name=clean_name(name, what="Organization name", max_length=190))
    save_unique(org, conflict="Organization name taken")
    Team.objects.create_everyone(org)
    if creator is not None:
        Membership.objects.create(org=org, user=creator, role=Role.ADMIN)
    if actor is not None:
        record("org.create", actor=actor, org=org, target=org)
    return org


def lock_org(org_id: int) -> Organization:
    """The org row, locked until the transaction ends. Creating, deleting and migrating keys,
    hiding the keys page, creating and deleting service accounts and deleting the org all take
    it first, so each sees the others' committed outcome, and no two of them wait for each
    other: a new or deleted account row updates the org's ``service_account_count`` (a
    trigger), which would otherwise take the org's lock only after the account's name was
    claimed or its row locked, while a migration batch or an org delete holding that lock
    claims names or deletes accounts too."""
    org = Organization.objects.select_for_update().filter(pk=org_id).first()
    if org is None:
        raise NotFound("Organization not found")
    return org


@transaction.atomic
def org_rename(*, actor: Identity | Actor, org: Organization, name: str) -> Organization:
    locked = lock_org(org.pk)
    before = locked.name
    locked.name = clean_name(name, what="Organization name", max_length=190)
    save_unique(locked, conflict="Organization name taken", update_fields=["name", "updated_at"])
    if before != locked.name:
        details = {"name": {"from": before, "to": locked.name}}
        record("org.rename", actor=actor, org=locked, target=locked, details=details)
    return locked


def org_contents(org: Organization) -> list[tuple[str, int]]:
    """What deleting ``org`` deletes with it, as (what, how many), from the same cascade the
    delete follows, so the confirmation cannot leave anything out."""
    collector = Collector(using=router.db_for_write(Organization))
    collector.collect([org])
    counts: Counter[type[models.Model]] = Counter()
    for model, instances in collector.data.items():
        if model is not Organization:
            counts[model] += len(instances)
    for queryset in collector.fast_deletes:
        counts[queryset.model] += queryset.count()
    return sorted(
        (str(model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural), count)
        for model, count in counts.items()
        if count
    )


@transaction.atomic
def org_delete(*, actor: Identity | Actor, org: Organization) -> None:
    """Delete the org and everything in it (members' accounts stay). The event is the
    server's: the org's own log goes with it."""
    locked = lock_org(org.pk)
    # Its teams and accounts too (in the order adding a team member locks them), before the
    # cascade reads what there is to delete: a member or token being added (which holds its team
    # or account) is then either deleted with the rest or refused as not found, never left
    # pointing at a deleted row (an IntegrityError at commit).
    for model in (Team, ServiceAccount):
        list(model.objects.select_for_update().filter(org=locked).order_by("pk").values("pk"))
    details = {"deleted": [f"{count} {what}" for what, count in org_contents(locked)]}
    target = Target.of(locked)
    locked.delete()
    record("org.delete", actor=actor, org=None, target=target, details=details)


USER_TAKEN = "User with same login or email already exists"
LAST_SERVER_ADMIN = "Cannot take away the last server admin"


def main_org() -> Organization | None:
    """Where a user created without an org goes (the first org, made by the migrations)."""
    return Organization.objects.filter(pk=MAIN_ORG_ID).first()


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
    actor: Identity | Actor | None = None,
) -> User:
    """Create a user and make them a member of ``org`` (Main Org. by default). A server
    event when someone (``actor``) asked; an accepted invitation records its own."""
    login, email, name = check_new_user(login=login, email=email, name=name, password=password)
    # Logins are unique ignoring case, which is stricter than the column's own constraint.
    if User.objects.filter(username__iexact=login).exists():
        raise Conflict(USER_TAKEN)
    user = User(username=login, email=email, name=name)
    user.set_password(password)
    user.is_superuser = user.is_staff = is_server_admin
    if org is None:
        org = main_org()
    user.current_org = org
    save_unique(user, conflict=USER_TAKEN)
    if org is not None:
        Membership.objects.create(org=org, user=user, role=role)
    if actor is not None:
        details = {"org": org.name if org else None, "role": role.value}
        record("user.create", actor=actor, org=None, target=user, details=details)
    return user


def check_new_user(
    *, login: str, email: str, name: str, password: str | None
) -> tuple[str, str, str]:
    """A new user's login (their e-mail address when empty), e-mail address and name, cleaned;
    or one ValidationError naming every field in error at once (login, email, name,
    password), so a form shows them all. ``password`` None: missing, reported by the caller."""
    errors: dict[str, ValidationError] = {}
    email = email.strip()
    login = login.strip() or email
    if not login:
        errors["login"] = ValidationError("A login or an email is required.")
    else:
        try:
            login = clean_name(login, what="Login", max_length=User.LOGIN_MAX_LENGTH)
        except ValidationError as exc:
            errors["login"] = exc
    try:
        email = clean_email(email)
    except ValidationError as exc:
        errors["email"] = exc
    try:
        name = clean_name(name, what="Name", max_length=190) if name.strip() else ""
    except ValidationError as exc:
        errors["name"] = exc
    if password is not None:
        try:
            validate_password(password, User(username=login, email=email, name=name))
        except ValidationError as exc:
            errors["password"] = exc
    if errors:
        raise ValidationError(errors)
    return login, email, name


def clean_email(email: str) -> str:
    email = email.strip()
    if email:
        validate_email(email)
    return email


@transaction.atomic
def user_update(*, actor: Identity | Actor, user: User, name: str, email: str) -> User:
    """Change a user's name and e-mail address (unique ignoring case)."""
    locked = User.objects.select_for_update().filter(pk=user.pk).first()
    if locked is None:
        raise NotFound(USER_NOT_FOUND)
    before = {"name": locked.name, "email": locked.email}
    locked.name = clean_name(name, what="Name", max_length=190) if name.strip() else ""
    locked.email = clean_email(email)
    save_unique(locked, conflict=USER_TAKEN, update_fields=["name", "email"])
    details = {
        field: {"from": old, "to": getattr(locked, field)}
        for field, old in before.items()
        if old != getattr(locked, field)
    }
    if details:
        record("user.update", actor=actor, org=None, target=locked, details=details)
    return locked


def _lock_server_admins(user: User) -> tuple[User, int]:
    """The user's row and how many active server admins there are, every one of their rows
    locked in id order: two admins revoking each other at once cannot both succeed."""
    admins = list(
        User.objects.select_for_update()
        .filter(is_superuser=True, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    locked = User.objects.select_for_update().filter(pk=user.pk).first()
    if locked is None:
        raise NotFound(USER_NOT_FOUND)
    return locked, len(admins)


@transaction.atomic
def user_set_server_admin(*, actor: Identity | Actor, user: User, is_server_admin: bool) -> User:
    """Grant or revoke server admin; never the last active one away."""
    locked, admin_count = _lock_server_admins(user)
    if not is_server_admin and locked.is_superuser and locked.is_active and admin_count <= 1:
        raise Refusal(LAST_SERVER_ADMIN)
    if locked.is_superuser != is_server_admin:
        action = "user.server-admin.grant" if is_server_admin else "user.server-admin.revoke"
        record(action, actor=actor, org=None, target=locked)
    locked.is_superuser = locked.is_staff = is_server_admin
    locked.save(update_fields=["is_superuser", "is_staff"])
    return locked


@transaction.atomic
def user_set_disabled(*, actor: Identity | Actor, user: User, disabled: bool) -> User:
    """Disable (no sign-in, no HTTP Basic, and their sessions end on their next request) or
    enable a user. Nobody disables themselves or the last active server admin."""
    locked, admin_count = _lock_server_admins(user)
    if disabled and locked.pk == _actor_user_id(actor):
        raise Refusal("You cannot disable yourself")
    if disabled and locked.is_superuser and locked.is_active and admin_count <= 1:
        raise Refusal(LAST_SERVER_ADMIN)
    if locked.is_active == disabled:
        record("user.disable" if disabled else "user.enable", actor=actor, org=None, target=locked)
    locked.is_active = not disabled
    locked.save(update_fields=["is_active"])
    return locked


def _actor_user_id(actor: Identity | Actor) -> int | None:
    if isinstance(actor, Identity):
        return actor.user.pk if actor.user is not None else None
    return actor.id if actor.type == ActorType.USER else None


@transaction.atomic
def membership_add(*, identity: Identity, org: Organization, user: User, role: Role) -> Membership:
    """Make ``user`` a member of ``org``, never with a role above the caller's."""
    check_role_ceiling(identity, role)
    membership = join_org(org=org, user=user, role=role)
    record("orgmember.add", actor=identity, org=org, target=user, details={"role": role.value})
    return membership


ALREADY_MEMBER = "User is already member of this organization"


def join_org(*, org: Organization, user: User, role: Role) -> Membership:
    """``user`` becomes a member of ``org`` (the caller checked who may decide that). The org is
    locked first: one being deleted meanwhile is NotFound, never a membership of no org."""
    org = lock_org(org.pk)
    membership = Membership(org=org, user=user, role=role)
    save_unique(membership, conflict=ALREADY_MEMBER)
    if user.current_org_id is None:
        user.current_org = org
        user.save(update_fields=["current_org"])
    return membership


USER_NOT_FOUND = "User not found"


def find_user(login_or_email: str) -> User:
    """An existing user by login (exactly) or e-mail (ignoring case), or NotFound."""
    login_or_email = login_or_email.strip()
    user = (
        User.objects.filter(Q(username=login_or_email) | Q(email__iexact=login_or_email)).first()
        if login_or_email
        else None
    )
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    return user


LAST_ADMIN_DEMOTE = "Cannot change role so that there is no organization admin left"
LAST_ADMIN_REMOVE = "Cannot remove the last organization admin"


def _lock_for_change(org: Organization, user: User) -> tuple[Membership, int]:
    """The member's row and the number of Admins, with every Admin row locked (in id order,
    so concurrent changes queue instead of deadlocking). Two parallel demotions thus cannot
    each see the other Admin still there and leave the org with none."""
    admins = list(
        Membership.objects.select_for_update()
        .filter(org=org, role=Role.ADMIN)
        .order_by("pk")
        .values_list("user_id", flat=True)
    )
    membership = Membership.objects.select_for_update().filter(org=org, user=user).first()
    if membership is None:
        raise NotFound("User not found in this organization")
    return membership, len(admins)


@transaction.atomic
def membership_update(
    *, identity: Identity, org: Organization, user: User, role: Role
) -> Membership:
    """Change a member's role: not above the caller's, not of someone above the caller, and
    never the org's last Admin away from Admin."""
    check_role_ceiling(identity, role)
    membership, admin_count = _lock_for_change(org, user)
    check_can_manage_role(identity, Role(membership.role))
    if membership.role == Role.ADMIN and role != Role.ADMIN and admin_count <= 1:
        raise Refusal(LAST_ADMIN_DEMOTE)
    if membership.role != role:
        record(
            "orgmember.update",
            actor=identity,
            org=org,
            target=user,
            details={"role": {"from": membership.role, "to": role.value}},
        )
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, identity: Identity, org: Organization, user: User) -> None:
    """Remove a member (never the last Admin) with their team memberships in ``org``."""
    membership, admin_count = _lock_for_change(org, user)
    check_can_manage_role(identity, Role(membership.role))
    if membership.role == Role.ADMIN and admin_count <= 1:
        raise Refusal(LAST_ADMIN_REMOVE)
    TeamMember.objects.filter(team__org=org, user=user).delete()
    membership.delete()
    if user.current_org_id == org.pk:
        user.current_org = (
            Organization.objects.filter(memberships__user=user).order_by("pk").first()
        )
        user.save(update_fields=["current_org"])
    record(
        "orgmember.remove", actor=identity, org=org, target=user, details={"role": membership.role}
    )


def switch_org(*, user: User, org: Organization) -> None:
    user.current_org = org
    user.save(update_fields=["current_org"])


# --- Service accounts ---------------------------------------------------------------------


def clean_service_account_name(name: str) -> str:
    return clean_name(name, what="Display name", max_length=ServiceAccount.NAME_MAX_LENGTH)


def _name_taken(name: str) -> str:
    return f"A service account named '{name}' already exists."


@transaction.atomic
def service_account_create(
    *, identity: Identity, name: str, role: Role = Role.VIEWER, is_disabled: bool = False
) -> ServiceAccount:
    """Create a service account in the caller's org, never with a role above the caller's."""
    check_role_ceiling(identity, role)
    name = clean_service_account_name(name)
    org = lock_org(identity.org.pk)
    login = f"sa-{org.pk}-{login_slug(name)}"
    if len(login) > ServiceAccount.LOGIN_MAX_LENGTH:
        raise ValidationError("Display name is too long to derive a login from.")
    account = ServiceAccount(
        org=org,
        name=name,
        login=login,
        role=role,
        is_disabled=is_disabled,
        created_by=identity.user,
    )
    save_unique(
        account,
        conflict=_name_taken(name),
        field_conflicts={
            "login": f"The login '{login}' derived from this name is already used by another "
            "service account; choose a different name."
        },
    )
    record(
        "serviceaccount.create",
        actor=identity,
        target=account,
        details={"role": account.role, "isDisabled": account.is_disabled},
    )
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
    if role is not None:
        check_role_ceiling(identity, role)
    locked = ServiceAccount.objects.select_for_update().filter(pk=account.pk).first()
    if locked is None:
        raise NotFound()
    check_can_manage_account(identity, locked)
    changes = {"name": name, "role": role, "is_disabled": is_disabled}
    changed = [field for field, value in changes.items() if value is not None]
    before = {field: getattr(locked, field) for field in changed}
    for field in changed:
        setattr(locked, field, changes[field])
    save_unique(
        locked,
        conflict=_name_taken(locked.name),
        update_fields=[*changed, "updated_at"] if changed else None,
    )
    _record_update(identity, locked, before)
    return locked


def _record_update(identity: Identity, account: ServiceAccount, before: dict) -> None:
    """``serviceaccount.update`` for a new name or role (old and new values in the details),
    ``serviceaccount.disable`` / ``.enable`` for the switch; nothing for a change to the same."""
    details = {
        field: {"from": before[field], "to": getattr(account, field)}
        for field in ("name", "role")
        if field in before and before[field] != getattr(account, field)
    }
    if details:
        record("serviceaccount.update", actor=identity, target=account, details=details)
    if "is_disabled" in before and before["is_disabled"] != account.is_disabled:
        action = "serviceaccount.disable" if account.is_disabled else "serviceaccount.enable"
        record(action, actor=identity, target=account)


@transaction.atomic
def service_account_delete(*, identity: Identity, account: ServiceAccount) -> None:
    """Delete the account and, in the same transaction, every token it has."""
    lock_org(account.org_id)  # first: see lock_org
    locked = ServiceAccount.objects.select_for_update().filter(pk=account.pk).first()
    if locked is None:
        raise NotFound()
    check_can_manage_account(identity, locked)
    target, tokens = Target.of(locked), locked.tokens.count()
    locked.delete()
    record("serviceaccount.delete", actor=identity, target=target, details={"tokens": tokens})
