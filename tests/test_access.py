"""Every page of the browser UI, walked from the URLconf rather than from hand-kept lists, so a
new view is covered the moment it has a URL:

- an Admin of another org gets 404 for our objects, whatever the method (405 only where the
  view refuses that method to our own Admin too);
- every persona without the permission the view asks of ``org_view`` gets 403, whatever the
  method, and an Editor holding it gets past the check;
- a POST without the CSRF token is refused;
and none of these requests changes a row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, resolve, reverse

import config.urls
from accounts.access import Needed
from accounts.invites.services import invite_create
from accounts.models import Invite, Permission, ServiceAccount, Team, User
from accounts.roles import Role
from accounts.teams.catalogue import TOKENS_REPORT_LEAK
from accounts.teams.services import (
    permission_create,
    server_grant_give,
    team_create,
    team_member_add,
)
from apikeys.models import ApiKey
from tests.helpers import SYSTEM, grant, make_user, signed_in
from tokens.models import ServiceAccountToken
from tokens.services import token_create

# The few pages that are not about an org's data: signing in and out, your own profile,
# resetting a forgotten password, and the page an invitation's link opens.
NOT_ORG_VIEWS = {
    "login",
    "logout",
    "home",
    "profile",
    "switch-org",
    "password-reset",
    "password-reset-done",
    "password-reset-confirm",
    "password-reset-complete",
    "invite-open",
    "invite-accept",
}
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# Enough for any of the forms to be valid, so a view that skipped its check would act.
FORM_DATA = {"name": "changed", "role": "Admin", "expiration": "never", "ttl": "1d", "next": "/"}
APPS = ("accounts", "tokens", "apikeys")


@dataclass(frozen=True)
class OrgObjects:
    account: ServiceAccount
    token: ServiceAccountToken
    key: ApiKey
    team: Team  # with the account and the member in it
    member: User
    permission: Permission
    invite: Invite


# Which object fills each URL parameter; a new parameter must be taught here.
PARAMETERS: dict[str, Callable[[OrgObjects], int | str]] = {
    "sa_id": lambda objects: objects.account.pk,
    "token_id": lambda objects: objects.token.pk,
    "key_id": lambda objects: objects.key.pk,
    "team_id": lambda objects: objects.team.pk,
    "user_id": lambda objects: objects.member.pk,
    "name": lambda objects: objects.permission.name,
    "code": lambda objects: objects.invite.code,
    "org_id": lambda objects: objects.account.org_id,
    "permission": lambda objects: TOKENS_REPORT_LEAK,
}


def ui_patterns(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """(route, pattern) of every URL outside Django's admin and the JSON API."""
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if route.lstrip("^").startswith(("django-admin/", "api/")):
            continue
        if isinstance(entry, URLResolver):
            yield from ui_patterns(entry.url_patterns, route)
        else:
            yield route, entry


UI_URLS = dict(ui_patterns(config.urls.urlpatterns))
# Server admin → Organizations and Users: about the server, not one org.
SERVER_ADMIN_URLS = sorted(
    pattern.name for route, pattern in UI_URLS.items() if route.startswith("admin/")
)
ORG_URLS = sorted(
    pattern.name
    for pattern in UI_URLS.values()
    if pattern.name not in NOT_ORG_VIEWS and pattern.name not in SERVER_ADMIN_URLS
)
OBJECT_URLS = [
    pattern.name
    for pattern in UI_URLS.values()
    if pattern.name in ORG_URLS and pattern.pattern.converters
]


def url_for(name: str, objects: OrgObjects | None) -> str:
    parameters = next(p for p in UI_URLS.values() if p.name == name).pattern.converters
    missing = set(parameters) - set(PARAMETERS)
    assert not missing, f"teach tests/test_access.py which object fills {missing}"
    return reverse(
        name, kwargs={key: PARAMETERS[key](objects) if objects else 1 for key in parameters}
    )


UNCHECKED = object()


def needed(name: str) -> Needed | object:
    """What the page's ``org_view`` asks for, or UNCHECKED when it has no ``org_view``."""
    return getattr(resolve(url_for(name, None)).func, "needed", UNCHECKED)


def snapshot() -> dict[str, list[dict]]:
    """Every row of the project's own tables."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for app in APPS
        for model in apps.get_app_config(app).get_models()
    }


def send(client: Client, method: str, url: str) -> HttpResponse:
    if method == "post":
        return client.post(url, FORM_DATA)
    return client.generic(method.upper(), url)


@pytest.fixture
def objects(make_account, make_key, org_admin, org) -> OrgObjects:
    """One of each kind of object, all in Acme; the account holds the server grant."""
    account = make_account("robot")
    token, _ = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    key, _ = make_key("legacy")
    member = make_user("mia", org, Role.EDITOR)
    team = team_create(identity=org_admin, name="Ingest")
    team_member_add(identity=org_admin, team=team, service_account=account)
    team_member_add(identity=org_admin, team=team, user=member)
    permission = permission_create(identity=org_admin, name="metrics:ingest")
    invite, _ = invite_create(
        identity=org_admin, login_or_email="new@example.com", role=Role.VIEWER, base_url=""
    )
    server_grant_give(actor=SYSTEM, permission=TOKENS_REPORT_LEAK, account=account)
    return OrgObjects(account, token, key, team, member, permission, invite)


def test_every_ui_url_is_named_and_every_org_page_checks_access():
    unnamed = [route for route, pattern in UI_URLS.items() if not pattern.name]
    assert not unnamed, "name these URLs so the access walk can reverse them"
    unchecked = [name for name in ORG_URLS if needed(name) is UNCHECKED]
    assert not unchecked, "decorate these views with accounts.access.org_view (outermost)"


@pytest.mark.django_db
@pytest.mark.parametrize("name", OBJECT_URLS)
def test_another_orgs_admin_gets_404_for_our_objects(name, objects, outsider, admin):
    url = url_for(name, objects)
    theirs, ours = signed_in(outsider), signed_in(admin)
    before = snapshot()
    refused = {method: send(theirs, method, url).status_code for method in METHODS}
    assert snapshot() == before, f"{url} changed data for another org's admin"
    # Our own Admin tells which methods the view serves at all (POST last: it may delete).
    for method in sorted(METHODS, key=lambda method: method == "post"):
        expected = 405 if send(ours, method, url).status_code == 405 else 404
        assert refused[method] == expected, f"{method.upper()} {url}"


PERSONAS = ("editor", "viewer", "no_role")  # members holding no permission at all


@pytest.mark.django_db
@pytest.mark.parametrize("name", ORG_URLS)
def test_members_without_the_pages_permission_get_403_whatever_the_method(name, request, objects):
    url = url_for(name, objects)
    if needed(name) is None:
        pytest.skip("any member may use this page")
    clients = {persona: signed_in(request.getfixturevalue(persona)) for persona in PERSONAS}
    before = snapshot()
    for persona, client in clients.items():
        for method in METHODS:
            assert send(client, method, url).status_code == 403, f"{persona}: {method} {url}"
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ORG_URLS)
def test_an_editor_holding_the_pages_permission_gets_past_the_check(name, editor, objects):
    permission = needed(name)
    if isinstance(permission, tuple):
        permission = permission[0]
    if isinstance(permission, str):
        grant(editor, permission)
    response = signed_in(editor).get(url_for(name, objects))
    assert response.status_code != 403, name


@pytest.mark.django_db
@pytest.mark.parametrize("name", ORG_URLS)
def test_posts_without_the_csrf_token_are_refused(name, objects, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    before = snapshot()
    assert client.post(url_for(name, objects), FORM_DATA).status_code == 403
    assert snapshot() == before


def test_the_walk_sees_the_pages_it_is_meant_to():
    assert {
        "serviceaccount-delete",
        "token-delete",
        "apikey-migrate",
        "team-member-sa-remove",
        "org-user-remove",
        "permission-delete",
        "org-invite-revoke",
    } <= set(OBJECT_URLS)
    assert {"serviceaccounts", "apikeys-hide", "teams", "org-users", "permissions"} <= set(
        ORG_URLS
    ) - set(OBJECT_URLS)


def test_every_server_admin_page_checks_for_a_server_admin():
    unchecked = [
        name
        for name in SERVER_ADMIN_URLS
        if not getattr(resolve(url_for(name, None)).func, "server_admin_only", False)
    ]
    assert not unchecked, "decorate these views with accounts.access.server_admin_view"
    assert {
        "admin-orgs",
        "admin-users",
        "admin-org-delete",
        "admin-user-disable",
        "admin-grants",
        "admin-grant-remove",
    } <= set(SERVER_ADMIN_URLS)


@pytest.mark.django_db
@pytest.mark.parametrize("name", SERVER_ADMIN_URLS)
def test_server_admin_pages_refuse_everyone_else_whatever_the_method(name, request, objects):
    url = url_for(name, objects)
    clients = [signed_in(request.getfixturevalue(p)) for p in ("admin", *PERSONAS)]
    grant(request.getfixturevalue("editor"), "users:write", "teams:write")
    before = snapshot()
    for client in clients:
        for method in METHODS:
            assert send(client, method, url).status_code == 403, f"{method} {url}"
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", SERVER_ADMIN_URLS)
def test_server_admin_posts_without_the_csrf_token_are_refused(name, objects, server_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(server_admin)
    before = snapshot()
    assert client.post(url_for(name, objects), FORM_DATA).status_code == 403
    assert snapshot() == before
