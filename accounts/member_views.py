"""Configuration → Users: the org's members (Grafana's "Organization users"), each role changed
inline, an existing user added by login or e-mail with a role, a member removed after a
confirmation; and invitations: "Invite user" and the pending invites, each revoked after a
confirmation. The services refuse what would leave the org without an Admin or touch a role
above the caller's; those refusals show where the change was asked for. Changes answer htmx
with ``orgUsersChanged``, on which the list (with its search and page) refreshes, or
``orgInvitesChanged``, on which the pending invites do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import (
    READ_ORG_USERS,
    AppRequest,
    assignable_roles,
    get_member,
    has_permission,
    org_view,
)
from accounts.errors import Conflict, NotFound, Refusal, RoleCeilingExceeded, message_of
from accounts.forms import OrgUserAddForm
from accounts.invites.forms import InviteForm
from accounts.invites.models import Invite
from accounts.invites.services import invite_create, invite_revoke
from accounts.invites.views import INVITES_CHANGED, invites_context
from accounts.models import SEARCH_MAX_LENGTH, Membership, User
from accounts.network import public_base_url
from accounts.roles import Role
from accounts.services import find_user, membership_add, membership_remove, membership_update
from accounts.teams.catalogue import USERS_WRITE
from accounts.ui import (
    action_done,
    confirm,
    form_answer,
    htmx_partial,
    page_or_partial,
    safe_next_url,
)

LIST_TEMPLATE = "accounts/org_users.html"
ROLE_TEMPLATE = "accounts/_member_role.html"
PER_PAGE = 50
ORG_USERS_CHANGED = "orgUsersChanged"


@dataclass
class MemberRow:
    membership: Membership
    manageable: bool  # the caller may change this member's role and remove them
    error: str = ""
    saved: bool = False

    @property
    def user(self) -> User:
        return self.membership.user


def _row(request: AppRequest, membership: Membership, **extra: Any) -> MemberRow:
    identity = request.identity
    manageable = has_permission(identity, USERS_WRITE) and identity.has_role(Role(membership.role))
    return MemberRow(membership, manageable, **extra)


def listing_context(
    request: AppRequest, params: QueryDict, refused: MemberRow | None = None, **extra: Any
) -> dict[str, Any]:
    identity = request.identity
    query = params.get("query", "").strip()[:SEARCH_MAX_LENGTH]
    members = (
        Membership.objects.filter(org=identity.org)
        .search(query)
        .select_related("user")
        .order_by("user__username", "pk")
    )
    page = Paginator(members, PER_PAGE).get_page(params.get("page"))
    rows = [
        refused if refused and refused.membership.pk == m.pk else _row(request, m)
        for m in page.object_list
    ]
    roles = assignable_roles(identity)
    return {
        "nav_active": "users",
        "page": page,
        "rows": rows,
        "sole_admins": Membership.objects.filter(org=identity.org).sole_admin_ids(),
        "query": query,
        "roles": roles,
        "add_form": OrgUserAddForm(roles=roles),
        **invites_context(request),
        **extra,
    }


@org_view(READ_ORG_USERS)
@require_GET
def org_users(request: AppRequest) -> HttpResponse:
    context = listing_context(request, request.GET)
    partials = {"user-results": "results", "org-invites": "invites"}
    return page_or_partial(request, LIST_TEMPLATE, context, partials)


@org_view(USERS_WRITE)
@require_POST
def org_user_add(request: AppRequest) -> HttpResponse:
    """An existing user joins the org; only a person can do this (pages are always one)."""
    identity = request.identity
    roles = assignable_roles(identity)
    form = OrgUserAddForm(request.POST, roles=roles)
    added = ""
    if form.is_valid():
        role = Role(form.cleaned_data["role"])
        try:
            user = find_user(form.cleaned_data["login_or_email"])
            membership_add(identity=identity, org=identity.org, user=user, role=role)
        except (NotFound, Conflict) as exc:
            form.add_error("login_or_email", exc.message)
        except RoleCeilingExceeded as exc:
            form.add_error("role", exc.message)
        else:
            added = f"Added '{user.username}' to {identity.org.name} as {role.label}."
    return form_answer(
        request,
        done=added,
        event=ORG_USERS_CHANGED,
        partial=f"{LIST_TEMPLATE}#add_form",
        context={"add_form": OrgUserAddForm(roles=roles) if added else form},
        page=lambda: render(
            request, LIST_TEMPLATE, listing_context(request, request.GET, add_form=form)
        ),
        next_url=reverse("org-users"),
    )


@org_view(USERS_WRITE)
@require_POST
def org_user_role(request: AppRequest, user_id: str) -> HttpResponse:
    identity = request.identity
    membership = get_member(identity, user_id)
    next_url = safe_next_url(request, reverse("org-users"))
    error = ""
    try:
        role = Role(request.POST.get("role", ""))
        membership = membership_update(
            identity=identity, org=identity.org, user=membership.user, role=role
        )
    except ValueError:
        error = "Choose one of the offered roles."
    except NotFound:
        raise
    except Refusal as exc:  # the last Admin, or a role above the caller's
        error = exc.message
        membership.refresh_from_db()
    row = _row(request, membership, error=error, saved=not error)
    if htmx_partial(request):
        context = {"row": row, "roles": assignable_roles(identity), "next": next_url}
        return render(request, ROLE_TEMPLATE, context)
    if error:  # the list the form came from, with the refusal beside the member's role
        params = QueryDict(urlsplit(next_url).query)
        return render(request, LIST_TEMPLATE, listing_context(request, params, refused=row))
    messages.success(request, f"Changed the role of '{membership.user.username}' to {role.label}.")
    return redirect(next_url)


@org_view(USERS_WRITE)
@require_http_methods(["GET", "POST"])
def org_user_remove(request: AppRequest, user_id: str) -> HttpResponse:
    identity = request.identity
    user = get_member(identity, user_id).user
    # Removing yourself leaves the org: nothing of it is left to show afterwards.
    leaving = user.pk == request.user.pk
    next_url = reverse("home") if leaving else safe_next_url(request, reverse("org-users"))
    options: dict[str, Any] = {
        "next_url": next_url,
        "cancel_url": safe_next_url(request, reverse("org-users")),
        "danger": True,
        "nav_active": "users",
        "member": user,
        "org": identity.org,
        "leaving": leaving,
    }
    if request.method == "GET":
        return confirm(request, **options)
    try:
        membership_remove(identity=identity, org=identity.org, user=user)
    except NotFound:
        raise
    except Refusal as exc:  # the last Admin, or a member above the caller
        return confirm(request, error=exc.message, **options)
    messages.success(request, f"Removed '{user.username}' from {identity.org.name}.")
    return action_done(request, event=ORG_USERS_CHANGED, next_url=next_url)


# --- Invitations ------------------------------------------------------------------------


@org_view(USERS_WRITE)
@require_POST
def org_invite_create(request: AppRequest) -> HttpResponse:
    identity = request.identity
    roles = assignable_roles(identity)
    form = InviteForm(request.POST, roles=roles)
    done = ""
    if form.is_valid():
        try:
            invite, _ = invite_create(
                identity=identity,
                login_or_email=form.cleaned_data["login_or_email"],
                name=form.cleaned_data["name"],
                role=Role(form.cleaned_data["role"]),
                base_url=public_base_url(request),
            )
        except RoleCeilingExceeded as exc:
            form.add_error("role", exc.message)
        except (Refusal, ValidationError) as exc:
            form.add_error("login_or_email", message_of(exc))
        else:
            done = f"Sent an invitation to {invite.email} to join as {invite.get_role_display()}."
    return form_answer(
        request,
        done=done,
        event=INVITES_CHANGED,
        partial=f"{LIST_TEMPLATE}#invite_form",
        context={
            "invite_form": InviteForm(roles=roles) if done else form,
            "invite_days": settings.KEYHOUSE_INVITE_DAYS,
        },
        page=lambda: render(
            request, LIST_TEMPLATE, listing_context(request, request.GET, invite_form=form)
        ),
        next_url=reverse("org-users"),
    )


@org_view(USERS_WRITE)
@require_http_methods(["GET", "POST"])
def org_invite_revoke(request: AppRequest, code: str) -> HttpResponse:
    identity = request.identity
    invite = Invite.objects.pending().filter(org=identity.org, code=code).first()
    if invite is None:
        raise NotFound("Invite not found")
    next_url = safe_next_url(request, reverse("org-users"))
    options: dict[str, Any] = {"next_url": next_url, "nav_active": "users", "invite": invite}
    if request.method == "GET":
        return confirm(request, danger=True, **options)
    try:
        invite_revoke(identity=identity, code=code)
    except NotFound:
        raise
    except Refusal as exc:  # an invite above the caller's role
        return confirm(request, danger=True, error=exc.message, **options)
    messages.success(request, f"Revoked the invitation of {invite.email}.")
    return action_done(request, event=INVITES_CHANGED, next_url=next_url)
