"""Password reset with Django's tokens: the link sent to a user, and the throttle on
"Forgot password?" requests (per address and per client, counted whether or not the address
belongs to anyone, so the answer never tells)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.access import Identity
from accounts.audit.models import ActorType
from accounts.audit.services import Actor, record
from accounts.emails import message
from accounts.models import User
from accounts.passwords.models import ResetRequest

WINDOW = timedelta(hours=1)
MAX_PER_ADDRESS = 3
MAX_PER_CLIENT = 10


def reset_link(user: User, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return base_url + reverse("password-reset-confirm", args=[uid, token])


def send_reset_link(user: User, base_url: str, *, actor: Identity | Actor) -> None:
    """Mail ``user`` a link to choose a new password (it works once, within
    ``PASSWORD_RESET_TIMEOUT``), asked for by ``actor``: a server admin, or whoever typed
    the address on "Forgot password?"."""
    context = {
        "user": user,
        "link": reset_link(user, base_url),
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    message("accounts/email/password_reset", context, [user.email]).send()
    record("user.password-reset", actor=actor, org=None, target=user)


def anonymous(client: str | None) -> Actor:
    """Whoever asked on "Forgot password?", known by their address only."""
    return Actor(ActorType.USER, None, "", client)


def _address_digest(email: str) -> str:
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()


def client_over_limit(client: str | None) -> bool:
    since = timezone.now() - WINDOW
    return ResetRequest.objects.filter(client=client or "", requested_at__gt=since).count() >= (
        MAX_PER_CLIENT
    )


def note_request(email: str, client: str | None) -> bool:
    """Count a request; whether this address may be sent another link within the hour."""
    now = timezone.now()
    ResetRequest.objects.filter(requested_at__lte=now - WINDOW).delete()
    digest = _address_digest(email)
    earlier = ResetRequest.objects.filter(address_digest=digest, requested_at__gt=now - WINDOW)
    allowed = earlier.count() < MAX_PER_ADDRESS
    ResetRequest.objects.create(address_digest=digest, client=client or "")
    return allowed


def users_for(email: str) -> list[User]:
    """The active user with this address, if any (addresses are unique)."""
    return list(User.objects.filter(email__iexact=email.strip(), is_active=True))
