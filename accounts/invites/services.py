"""Invite someone to an org by e-mail, list and revoke pending invites, and accept one.

An invite is for an e-mail address. Whoever holds its link may accept it once, before it
expires (``KEYHOUSE_INVITE_DAYS``): as a new account with that address, or, when an account
with that address exists, only as that account (signed in).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from smtplib import SMTPException

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.access import (
    Identity,
    check_can_manage_role,
    check_role_ceiling,
    require_user_identity,
)
from accounts.audit.models import ActorType
from accounts.audit.services import Actor, Target, record
from accounts.errors import Conflict, NotFound, Refusal
from accounts.invites.emails import invite_message
from accounts.invites.models import Invite, invite_digest, new_code, new_secret
from accounts.models import Membership, Organization, User
from accounts.roles import Role
from accounts.services import ALREADY_MEMBER, clean_name, join_org, lock_org, user_create

logger = logging.getLogger("keyhouse.invites")


NOT_VALID = "This invitation is not valid: it was used, revoked or has expired."


class MailFailed(Refusal):
    status = 502
    default_message = "The invitation e-mail could not be sent; nothing was saved. Try again."


def invite_link(base_url: str, secret: str) -> str:
    return f"{base_url}{reverse('invite-open', args=[secret])}"


def _invitee(login_or_email: str) -> tuple[User | None, str]:
    """The existing user named by login (if any) and the address to invite: theirs (maybe
    none), or the text itself when it is an e-mail address."""
    text = login_or_email.strip()
    if not text:
        raise ValidationError("Enter an e-mail address or the login of an existing user.")
    user = User.objects.filter(username=text).first()
    if user is not None:
        return user, user.email
    try:
        validate_email(text)
    except ValidationError:
        raise ValidationError("Enter an e-mail address or the login of an existing user.") from None
    return None, text


@transaction.atomic
def invite_create(
    *,
    identity: Identity,
    login_or_email: str,
    role: Role,
    name: str = "",
    send_email: bool = True,
    base_url: str,
) -> tuple[Invite, str]:
    """A new invite to the caller's org and its secret (the link's part); mailed to the
    invitee when ``send_email``. A pending invite for the same address is replaced (its link
    stops working), so inviting again is how an invite is sent anew."""
    require_user_identity(identity)
    check_role_ceiling(identity, role)
    user, email = _invitee(login_or_email)
    name = clean_name(name, what="Name", max_length=190) if name.strip() else ""
    # One invite at a time per org and address: parallel invites queue on the org's row.
    org = lock_org(identity.org.pk)
    member = Q(user__email__iexact=email) if email else Q()
    if user is not None:
        member |= Q(user=user)
    if Membership.objects.filter(member, org=org).exists():
        raise Conflict(ALREADY_MEMBER)
    if user is not None and not user.email:
        raise ValidationError(f"The user '{user.username}' has no e-mail address to invite.")
    now = timezone.now()
    Invite.objects.pending(now).filter(org=org, email__iexact=email).update(revoked_at=now)
    secret = new_secret()
    invite = Invite.objects.create(
        org=org,
        email=email,
        name=name,
        role=role,
        code=new_code(),
        digest=invite_digest(secret),
        invited_by=identity.user,
        expires_at=now + timedelta(days=settings.KEYHOUSE_INVITE_DAYS),
    )
    if send_email:  # within the transaction: a mail that cannot go leaves no invite behind
        try:
            invite_message(invite, invite_link(base_url, secret)).send()
        except (OSError, SMTPException) as exc:
            logger.error("Invitation e-mail to org %s failed: %s", org.pk, type(exc).__name__)
            raise MailFailed() from None
        invite.email_sent_at = timezone.now()
        invite.save(update_fields=["email_sent_at"])
    details = {"role": invite.role, "emailSent": send_email}
    record("invite.create", actor=identity, target=_target(invite), details=details)
    return invite, secret


def _target(invite: Invite) -> Target:
    """An invite in the audit log, by the address it is for."""
    return Target("invite", invite.pk, invite.email)


def pending_invites(org: Organization) -> list[Invite]:
    return list(Invite.objects.pending().filter(org=org).select_related("invited_by"))


@transaction.atomic
def invite_revoke(*, identity: Identity, code: str) -> Invite:
    """Revoke a pending invite of the caller's org; never one above the caller's role."""
    invite = (
        Invite.objects.select_for_update()
        .pending()
        .filter(org=identity.org, code=code.strip())
        .first()
    )
    if invite is None:
        raise NotFound("Invite not found")
    check_can_manage_role(identity, Role(invite.role))
    invite.revoked_at = timezone.now()
    invite.save(update_fields=["revoked_at"])
    record("invite.revoke", actor=identity, target=_target(invite), details={"role": invite.role})
    return invite


def find_invite(digest: str) -> Invite | None:
    """The pending invite with this digest (of its link's secret), with its org, or None."""
    return (
        Invite.objects.pending().filter(digest=digest).select_related("org", "invited_by").first()
    )


def account_for(invite: Invite) -> User | None:
    """The existing account with the invited address, which alone may accept it."""
    return User.objects.filter(email__iexact=invite.email).first()


def _lock_pending(digest: str) -> Invite:
    """The pending invite, locked after its org (an org delete takes the org, then deletes its
    invites: the other order would deadlock with it)."""
    org_id = Invite.objects.pending().filter(digest=digest).values_list("org_id", flat=True).first()
    if org_id is None:
        raise Refusal(NOT_VALID)
    try:
        lock_org(org_id)
    except NotFound:
        raise Refusal(NOT_VALID) from None
    invite = (
        Invite.objects.select_for_update(of=("self",))
        .pending()
        .filter(digest=digest)
        .select_related("org")
        .first()
    )
    if invite is None:
        raise Refusal(NOT_VALID)
    return invite


def _accepted(invite: Invite, user: User, *, address: str | None, new_account: bool) -> None:
    actor = Actor(ActorType.USER, user.pk, user.get_username(), address)
    details = {"role": invite.role, "newAccount": new_account}
    record("invite.accept", actor=actor, org=invite.org, target=_target(invite), details=details)
    invite.accepted_at = timezone.now()
    invite.accepted_by = user
    invite.save(update_fields=["accepted_at", "accepted_by"])
    user.current_org = invite.org
    user.save(update_fields=["current_org"])


@transaction.atomic
def invite_accept_existing(*, digest: str, user: User, address: str | None) -> Invite:
    """The signed-in ``user`` (the account with the invited address) joins the org. The
    invite is locked and read again, so of two parallel acceptances one is refused."""
    invite = _lock_pending(digest)
    if user.email.casefold() != invite.email.casefold() or not user.is_active:
        raise Refusal("This invitation is for another account.")
    join_org(org=invite.org, user=user, role=Role(invite.role))
    _accepted(invite, user, address=address, new_account=False)
    return invite


@transaction.atomic
def invite_accept_new(
    *, digest: str, login: str, name: str, password: str, address: str | None
) -> tuple[Invite, User]:
    """A new account with the invited address, member of the org with the invited role."""
    invite = _lock_pending(digest)
    if account_for(invite) is not None:
        raise Conflict("An account with this e-mail address exists: log in to accept.")
    user = user_create(
        login=login or invite.email,
        email=invite.email,
        name=name,
        password=password,
        org=invite.org,
        role=Role(invite.role),
    )
    _accepted(invite, user, address=address, new_account=True)
    return invite, user
