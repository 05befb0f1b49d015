"""Invitations in the browser: the pending invites of Configuration → Users (whose views, in
``accounts.member_views``, create and revoke them), and the page an invitee's link opens.

The link's secret leaves the address bar at once (as Django's password reset does): its GET
keeps only the secret's digest in the session and redirects to ``/invite/accept``, so the
secret is in no later URL, Referer or page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import AppRequest, assignable_roles, has_permission
from accounts.errors import Refusal, message_of
from accounts.forms import LOCKED_OUT_MESSAGE
from accounts.invites.forms import InviteForm, NewAccountForm, SignInToAcceptForm
from accounts.invites.models import Invite, invite_digest
from accounts.invites.services import (
    NOT_VALID,
    account_for,
    find_invite,
    invite_accept_existing,
    invite_accept_new,
    pending_invites,
)
from accounts.models import User
from accounts.network import client_address
from accounts.roles import Role
from accounts.teams.catalogue import USERS_WRITE

LIST_TEMPLATE = "accounts/org_users.html"
ACCEPT_TEMPLATE = "accounts/invite_accept.html"
INVITES_CHANGED = "orgInvitesChanged"
SESSION_KEY = "keyhouse_invite_digest"
SIGN_IN_BACKEND = "accounts.backends.UsernameOrEmailBackend"


def invites_context(request: AppRequest, **extra: Any) -> dict[str, Any]:
    """The "Invite user" form and the pending invites, for those who may manage them."""
    identity = request.identity
    if not has_permission(identity, USERS_WRITE):
        return {}
    roles = assignable_roles(identity)
    rows = [
        (invite, identity.has_role(Role(invite.role))) for invite in pending_invites(identity.org)
    ]
    return {
        "invite_form": InviteForm(roles=roles),
        "invites": rows,
        "invite_days": settings.KEYHOUSE_INVITE_DAYS,
        **extra,
    }


@require_GET
def invite_open(request: HttpRequest, secret: str) -> HttpResponse:
    """The mailed link: remember which invite (by digest), then show it at a clean URL."""
    request.session[SESSION_KEY] = invite_digest(secret[:200])
    return redirect("invite-accept")


@never_cache
@sensitive_post_parameters("password", "password1", "password2")
@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest) -> HttpResponse:
    digest = request.session.get(SESSION_KEY, "")
    invite = find_invite(digest) if digest else None
    if invite is None:
        return render(request, ACCEPT_TEMPLATE, {"invalid": NOT_VALID}, status=404)
    account = account_for(invite)
    signed_in = request.user if request.user.is_authenticated else None
    context: dict[str, Any] = {"invite": invite, "account": account}
    if account is None and signed_in is None:
        return _new_account(request, invite, context)
    if account is None or (signed_in is not None and signed_in.pk != account.pk):
        context["other_account"] = True  # signed in as someone else: log out first
        return render(request, ACCEPT_TEMPLATE, context)
    if signed_in is None:
        return _sign_in_and_accept(request, invite, account, context)
    if request.method == "POST":
        return _accept_existing(request, invite, account)
    return render(request, ACCEPT_TEMPLATE, context)


def _accept_existing(request: HttpRequest, invite: Invite, account: User) -> HttpResponse:
    try:
        invite = invite_accept_existing(
            digest=invite.digest, user=account, address=client_address(request)
        )
    except Refusal as exc:  # accepted in the meantime, say
        return render(request, ACCEPT_TEMPLATE, {"invalid": exc.message}, status=409)
    return _welcome(request, invite)


def _welcome(request: HttpRequest, invite: Invite) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"Welcome to {invite.org.name}.")
    return redirect("home")


def _new_account(request: HttpRequest, invite: Invite, context: dict[str, Any]) -> HttpResponse:
    form = NewAccountForm(request.POST or None, email=invite.email, initial={"name": invite.name})
    if request.method == "POST" and form.is_valid():
        try:
            invite, user = invite_accept_new(
                digest=invite.digest,
                login=form.cleaned_data["login"],
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
                address=client_address(request),
            )
        except (Refusal, ValidationError) as exc:  # the login is taken, say
            form.add_error(None, message_of(exc))
        else:
            login(request, user, backend=SIGN_IN_BACKEND)
            return _welcome(request, invite)
    return render(request, ACCEPT_TEMPLATE, {**context, "new_form": form})


def _sign_in_and_accept(
    request: HttpRequest, invite: Invite, account: User, context: dict[str, Any]
) -> HttpResponse:
    form = SignInToAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # authenticate() counts failures toward the sign-in lock, like the login page.
        user = authenticate(
            request, username=account.get_username(), password=form.cleaned_data["password"]
        )
        if getattr(request, "axes_locked_out", False):
            form.add_error("password", LOCKED_OUT_MESSAGE)
        elif user is None or user.pk != account.pk:
            form.add_error("password", "Invalid password.")
        else:
            login(request, user)
            return _accept_existing(request, invite, account)
    return render(request, ACCEPT_TEMPLATE, {**context, "sign_in_form": form})
