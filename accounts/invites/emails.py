from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from accounts.emails import message
from accounts.invites.models import Invite


def invite_message(invite: Invite, link: str) -> EmailMultiAlternatives:
    inviter = invite.invited_by
    context = {
        "invite": invite,
        "inviter": (inviter.name or inviter.username) if inviter else "",
        "link": link,
        "days": settings.KEYHOUSE_INVITE_DAYS,
    }
    return message("accounts/email/invite", context, [invite.email])
