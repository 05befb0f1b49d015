"""Server admin → Organizations, Users and Server grants: Grafana's server-admin pages (and
Keyhouse's server grants), for server admins only. Every change goes through the services the
API uses (``accounts.services``, ``accounts.teams.services``), so the same rules hold here: the
last Admin of an org, the last server admin, the role ceiling, one holder per server grant.
Every page works without JavaScript; confirmations follow ``accounts.ui.confirm``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from smtplib import SMTPException
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from accounts.access import (
    Identity,
    SignedInRequest,
    get_or_404,
    identity_for_user,
    server_admin_view,
)
from accounts.audit.services import Actor
from accounts.errors import NotFound, Refusal, message_of
from accounts.models import SEARCH_MAX_LENGTH, Membership, Organization, ServiceAccount, User
from accounts.names import name_key
from accounts.network import client_address, public_base_url
from accounts.passwords.services import send_reset_link
from accounts.roles import Role
from accounts.serveradmin.forms import (
    AddToOrgForm,
    OrgNameForm,
    ServerGrantForm,
    UserCreateForm,
    UserEditForm,
)
from accounts.services import (
    main_org,
    membership_add,
    membership_remove,
    membership_update,
    org_contents,
    org_create,
    org_delete,
    org_rename,
    user_create,
    user_set_disabled,
    user_set_server_admin,
    user_update,
)
from accounts.teams.catalogue import SERVER_PERMISSIONS
from accounts.teams.models import ServerGrant
from accounts.teams.services import server_grant_give, server_grant_remove
from accounts.ui import confirm, htmx_partial, safe_next_url

PER_PAGE = 50
ORGS = "admin-orgs"
USERS = "admin-users"
GRANTS = "admin-grants"


def _actor(request: SignedInRequest) -> Actor:
    return Actor.person(request.user, request)


def _identity_in(request: SignedInRequest, org: Organization) -> Identity:
    """The server admin acting in ``org`` (as its Admin), from their address."""
    identity = identity_for_user(request.user, org)
    assert identity is not None  # a server admin acts in every org
    return replace(identity, address=client_address(request))


def _query(request: SignedInRequest) -> str:
    return request.GET.get("query", "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]


def _count_of(model: type, **filters: Any) -> Coalesce:
    """A correlated COUNT (the models name no reverse relation from the org)."""
    rows = (
        model._default_manager.filter(**filters)  # type: ignore[attr-defined]
        .order_by()
        .values("org")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


# --- Organizations ---------------------------------------------------------------------------


@server_admin_view
@require_GET
def org_list(request: SignedInRequest) -> HttpResponse:
    query = _query(request)
    orgs = Organization.objects.annotate(
        member_count=_count_of(Membership, org=OuterRef("pk")),
        account_count=_count_of(ServiceAccount, org=OuterRef("pk")),
    ).order_by("name_key", "pk")
    if query:
        orgs = orgs.filter(name_key__contains=name_key(query))
    page = Paginator(orgs, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "accounts/admin_orgs.html", {"nav_active": ORGS, "page": page, "query": query}
    )


@server_admin_view
@require_http_methods(["GET", "POST"])
def org_create_view(request: SignedInRequest) -> HttpResponse:
    form = OrgNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = org_create(
                name=form.cleaned_data["name"], creator=request.user, actor=_actor(request)
            )
        except (Refusal, ValidationError) as exc:
            form.add_error("name", message_of(exc))
        else:
            messages.success(request, f"Created the organization {org.name}.")
            return redirect("admin-org", org.pk)
    return render(request, "accounts/admin_org_create.html", {"nav_active": ORGS, "form": form})


def _org_page(request: SignedInRequest, org: Organization, form: OrgNameForm) -> HttpResponse:
    members = Membership.objects.filter(org=org).select_related("user").order_by("user__username")
    context = {"nav_active": ORGS, "org": org, "form": form, "members": members}
    return render(request, "accounts/admin_org.html", context)


@server_admin_view
@require_http_methods(["GET", "POST"])
def org_detail(request: SignedInRequest, org_id: str) -> HttpResponse:
    """The org's name (renamed here) and members."""
    org = get_or_404(Organization.objects.all(), org_id)
    form = OrgNameForm(request.POST or None, initial={"name": org.name})
    if request.method == "POST" and form.is_valid():
        try:
            org = org_rename(actor=_actor(request), org=org, name=form.cleaned_data["name"])
        except NotFound:
            raise
        except (Refusal, ValidationError) as exc:
            form.add_error("name", message_of(exc))
        else:
            messages.success(request, f"Renamed the organization to {org.name}.")
            return redirect("admin-org", org.pk)
    return _org_page(request, org, form)


@server_admin_view
@require_http_methods(["GET", "POST"])
def org_delete_view(request: SignedInRequest, org_id: str) -> HttpResponse:
    org = get_or_404(Organization.objects.all(), org_id)
    next_url = reverse(ORGS)
    if request.method == "GET":
        return confirm(
            request,
            next_url=next_url,
            cancel_url=reverse("admin-org", args=[org.pk]),
            danger=True,
            nav_active=ORGS,
            org=org,
            contents=org_contents(org),
        )
    org_delete(actor=_actor(request), org=org)
    messages.success(request, f"Deleted the organization {org.name}.")
    return redirect(next_url)


# --- Users ---------------------------------------------------------------------------------


@server_admin_view
@require_GET
def user_list(request: SignedInRequest) -> HttpResponse:
    query = _query(request)
    users = User.objects.annotate(org_count=Count("memberships")).order_by("username", "pk")
    if query:
        users = users.filter(
            Q(username__icontains=query) | Q(email__icontains=query) | Q(name__icontains=query)
        )
    page = Paginator(users, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "accounts/admin_users.html", {"nav_active": USERS, "page": page, "query": query}
    )


@server_admin_view
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def user_create_view(request: SignedInRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = user_create(
                login=data["login"],
                email=data["email"],
                name=data["name"],
                password=data["password"],
                actor=_actor(request),
            )
        except Refusal as exc:  # the login is taken
            form.add_error("login", exc.message)
        except ValidationError as exc:  # each field in error has its own message
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created the user {user.username}.")
            return redirect("admin-user", user.pk)
    context = {"nav_active": USERS, "form": form, "main_org": main_org()}
    return render(request, "accounts/admin_user_create.html", context)


def _user_page(
    request: SignedInRequest,
    user: User,
    *,
    edit_form: UserEditForm | None = None,
    add_form: AddToOrgForm | None = None,
    membership_error: tuple[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    memberships = Membership.objects.filter(user=user).select_related("org").order_by("org__name")
    context = {
        "nav_active": USERS,
        "subject": user,
        "edit_form": edit_form or UserEditForm(initial={"name": user.name, "email": user.email}),
        "add_form": add_form or AddToOrgForm(user=user),
        "memberships": memberships,
        "sole_admins": memberships.sole_admin_ids(),
        "roles": list(Role),
        "membership_error": membership_error,
        "here": request.get_full_path(),
    }
    return render(request, "accounts/admin_user.html", context, status=status)


def _get_user(user_id: str) -> User:
    return get_or_404(User.objects.all(), user_id, "User not found")


@server_admin_view
@require_http_methods(["GET", "POST"])
def user_detail(request: SignedInRequest, user_id: str) -> HttpResponse:
    """The user's page; its POST saves their name and e-mail address."""
    user = _get_user(user_id)
    if request.method == "GET":
        return _user_page(request, user)
    form = UserEditForm(request.POST)
    if form.is_valid():
        try:
            user_update(
                actor=_actor(request),
                user=user,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
        except NotFound:
            raise
        except (Refusal, ValidationError) as exc:
            form.add_error("email", message_of(exc))
        else:
            messages.success(request, f"Saved {user.username}.")
            return redirect("admin-user", user.pk)
    return _user_page(request, user, edit_form=form)


def _user_action(
    request: SignedInRequest,
    user_id: str,
    act: Callable[[User], Any],
    done: str,
) -> HttpResponse:
    """Ask first (GET), then ``act`` on the user (POST); a refusal shows in the dialog."""
    user = _get_user(user_id)
    next_url = safe_next_url(request, reverse("admin-user", args=[user.pk]))
    options: dict[str, Any] = {"next_url": next_url, "nav_active": USERS, "subject": user}
    if request.method == "GET":
        return confirm(request, **options)
    try:
        act(user)
    except NotFound:
        raise
    except Refusal as exc:
        return confirm(request, error=exc.message, **options)
    messages.success(request, done.format(user=user.username))
    return _done(request, next_url)


def _done(request: SignedInRequest, next_url: str) -> HttpResponse:
    """After an action confirmed in a dialog, the page behind it shows the change: htmx
    reloads it; without JavaScript the browser follows the redirect."""
    return HttpResponseClientRefresh() if htmx_partial(request) else redirect(next_url)


@server_admin_view
@require_http_methods(["GET", "POST"])
def user_disable(request: SignedInRequest, user_id: str) -> HttpResponse:
    return _user_action(
        request,
        user_id,
        lambda user: user_set_disabled(actor=_actor(request), user=user, disabled=True),
        "Disabled {user}: their sessions have ended.",
    )


@server_admin_view
@require_http_methods(["GET", "POST"])
def user_enable(request: SignedInRequest, user_id: str) -> HttpResponse:
    return _user_action(
        request,
        user_id,
        lambda user: user_set_disabled(actor=_actor(request), user=user, disabled=False),
        "Enabled {user}.",
    )


@server_admin_view
@require_http_methods(["GET", "POST"])
def user_grant_admin(request: SignedInRequest, user_id: str) -> HttpResponse:
    return _user_action(
        request,
        user_id,
        lambda user: user_set_server_admin(actor=_actor(request), user=user, is_server_admin=True),
        "{user} is now a server admin.",
    )


@server_admin_view
@require_http_methods(["GET", "POST"])
def user_revoke_admin(request: SignedInRequest, user_id: str) -> HttpResponse:
    return _user_action(
        request,
        user_id,
        lambda user: user_set_server_admin(actor=_actor(request), user=user, is_server_admin=False),
        "{user} is no longer a server admin.",
    )


@server_admin_view
@require_http_methods(["GET", "POST"])
def user_send_reset(request: SignedInRequest, user_id: str) -> HttpResponse:
    def send(user: User) -> None:
        if not user.email or not user.is_active:
            raise Refusal("Only an enabled user with an e-mail address can reset their password.")
        try:
            send_reset_link(user, public_base_url(request), actor=_actor(request))
        except (OSError, SMTPException):
            raise Refusal("The e-mail could not be sent. Try again later.") from None

    return _user_action(request, user_id, send, "Sent a password reset link to {user}.")


# --- A user's organizations ------------------------------------------------------------------


@server_admin_view
@require_POST
def user_org_add(request: SignedInRequest, user_id: str) -> HttpResponse:
    user = _get_user(user_id)
    form = AddToOrgForm(request.POST, user=user)
    if form.is_valid():
        org = form.cleaned_data["org"]
        try:
            membership_add(
                identity=_identity_in(request, org),
                org=org,
                user=user,
                role=Role(form.cleaned_data["role"]),
            )
        except Refusal as exc:
            form.add_error("org", exc.message)
        else:
            messages.success(request, f"Added {user.username} to {org.name}.")
            return redirect("admin-user", user.pk)
    return _user_page(request, user, add_form=form)


def _membership(user_id: str, org_id: str) -> tuple[User, Organization, Membership]:
    user = _get_user(user_id)
    membership = get_or_404(
        Membership.objects.filter(user=user).select_related("org"), org_id, lookup="org_id"
    )
    return user, membership.org, membership


@server_admin_view
@require_POST
def user_org_role(request: SignedInRequest, user_id: str, org_id: str) -> HttpResponse:
    user, org, _ = _membership(user_id, org_id)
    try:
        role = Role(request.POST.get("role", ""))
        membership_update(identity=_identity_in(request, org), org=org, user=user, role=role)
    except ValueError:
        return _user_page(request, user, membership_error=(org.pk, "Choose a role."), status=400)
    except NotFound:
        raise
    except Refusal as exc:  # the org's last Admin
        return _user_page(request, user, membership_error=(org.pk, exc.message), status=400)
    messages.success(request, f"{user.username} is now {role.label} in {org.name}.")
    return redirect("admin-user", user.pk)


@server_admin_view
@require_http_methods(["GET", "POST"])
def user_org_remove(request: SignedInRequest, user_id: str, org_id: str) -> HttpResponse:
    user, org, _ = _membership(user_id, org_id)
    next_url = reverse("admin-user", args=[user.pk])
    options: dict[str, Any] = {
        "next_url": next_url,
        "danger": True,
        "nav_active": USERS,
        "subject": user,
        "org": org,
    }
    if request.method == "GET":
        return confirm(request, **options)
    try:
        membership_remove(identity=_identity_in(request, org), org=org, user=user)
    except NotFound:
        raise
    except Refusal as exc:
        return confirm(request, error=exc.message, **options)
    messages.success(request, f"Removed {user.username} from {org.name}.")
    return _done(request, next_url)


# --- Server grants ---------------------------------------------------------------------------


def _held_grants() -> dict[str, ServerGrant]:
    grants = ServerGrant.objects.select_related("service_account__org")
    return {grant.permission: grant for grant in grants}


@server_admin_view
@require_http_methods(["GET", "POST"])
def grant_list(request: SignedInRequest) -> HttpResponse:
    """Who holds each server permission; the form's POST gives one to a service account."""
    form = ServerGrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        permission, account = form.cleaned_data["permission"], form.cleaned_data["service_account"]
        try:
            server_grant_give(actor=_actor(request), permission=permission, account=account)
        except NotFound as exc:  # the account was deleted meanwhile
            form.add_error("account", exc.message)
        else:
            messages.success(
                request, f"{account.name} ({account.org.name}) now holds {permission}."
            )
            return redirect(GRANTS)
    held = _held_grants()
    permissions = [
        (name, description, held.get(name)) for name, description in SERVER_PERMISSIONS.items()
    ]
    context = {"nav_active": GRANTS, "permissions": permissions, "form": form}
    return render(request, "accounts/admin_grants.html", context)


@server_admin_view
@require_http_methods(["GET", "POST"])
def grant_remove(request: SignedInRequest, permission: str) -> HttpResponse:
    grant = _held_grants().get(permission)
    if grant is None:
        raise Http404("Nobody holds this permission.")
    next_url = reverse(GRANTS)
    if request.method == "GET":
        return confirm(request, next_url=next_url, danger=True, nav_active=GRANTS, grant=grant)
    server_grant_remove(actor=_actor(request), permission=permission)
    account = grant.service_account
    messages.success(request, f"{account.name} ({account.org.name}) no longer holds {permission}.")
    return _done(request, next_url)
