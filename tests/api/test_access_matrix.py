"""Who may call each management endpoint (DESIGN §11, issue 11's enforcement rules).

For every endpoint and every persona: an Admin; an Editor holding the needed permission
through a team; an Editor holding every other built-in one; a Viewer; a token of a Viewer
account holding the permission individually; one holding every other one; and another org's
Admin. A refusal changes nothing.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client

from accounts.access import IMPLIED_BY
from accounts.models import (
    Membership,
    Organization,
    Permission,
    ServiceAccount,
    ServiceAccountPermission,
    Team,
    TeamMember,
    TeamPermission,
)
from accounts.roles import Role
from accounts.teams.catalogue import (
    APIKEYS_WRITE,
    BUILTIN_PERMISSIONS,
    SERVICEACCOUNTS_READ,
    SERVICEACCOUNTS_WRITE,
    TEAMS_WRITE,
    TOKENS_INTROSPECT,
    USERS_WRITE,
)
from apikeys.models import ApiKey
from tests.helpers import call, grant, make_user
from tokens.models import ServiceAccountToken
from tokens.services import token_create

pytestmark = pytest.mark.django_db

OPENAPI = json.loads((Path(settings.BASE_DIR) / "config" / "openapi.json").read_text())


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # formatted with the world's ids
    needs: tuple[str, ...]  # any of these; empty = any identity of the org
    ok: int = 200
    outsider: int = 404  # another org's Admin: 404 for this org's objects
    body: dict | None = None
    users_only: bool = False
    prepare: str = ""  # a World method to call first

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


SA = "/api/serviceaccounts/{sa}"
TEAM = "/api/teams/{team}"
ENDPOINTS = [
    Endpoint("GET", "/api/serviceaccounts/search", (SERVICEACCOUNTS_READ,), outsider=200),
    Endpoint("POST", "/api/serviceaccounts", (SERVICEACCOUNTS_WRITE,), 201, 201, {"name": "new"}),
    Endpoint("GET", SA, (SERVICEACCOUNTS_READ,)),
    Endpoint("PATCH", SA, (SERVICEACCOUNTS_WRITE,), body={"name": "renamed"}),
    Endpoint("DELETE", SA, (SERVICEACCOUNTS_WRITE,)),
    Endpoint("GET", SA + "/tokens", (SERVICEACCOUNTS_READ,)),
    Endpoint("POST", SA + "/tokens", (SERVICEACCOUNTS_WRITE,), body={"name": "new"}),
    Endpoint("DELETE", SA + "/tokens/{token}", (SERVICEACCOUNTS_WRITE,)),
    Endpoint("PATCH", SA + "/tokens/{token}", (SERVICEACCOUNTS_WRITE,), body={"name": "renamed"}),
    Endpoint("POST", SA + "/tokens/{token}/revoke", (SERVICEACCOUNTS_WRITE,)),
    Endpoint(
        "POST", SA + "/tokens/{token}/rotate", (SERVICEACCOUNTS_WRITE,), body={"graceSeconds": 60}
    ),
    Endpoint("GET", SA + "/permissions", (SERVICEACCOUNTS_READ,)),
    Endpoint(
        "PUT",
        SA + "/permissions",
        (SERVICEACCOUNTS_WRITE,),
        body={"permissions": ["serviceaccounts:write"]},
    ),
    Endpoint("GET", "/api/auth/keys", (APIKEYS_WRITE,), outsider=200),
    Endpoint(
        "POST",
        "/api/auth/keys",
        (APIKEYS_WRITE,),
        outsider=200,
        body={"name": "n", "role": "Viewer", "secondsToLive": 60},
    ),
    Endpoint("DELETE", "/api/auth/keys/{key}", (APIKEYS_WRITE,)),
    Endpoint("POST", "/api/serviceaccounts/migrate", (APIKEYS_WRITE,), outsider=200),
    Endpoint("POST", "/api/serviceaccounts/migrate/{key}", (APIKEYS_WRITE,)),
    Endpoint("GET", "/api/serviceaccounts/migrationstatus", (APIKEYS_WRITE,), outsider=200),
    Endpoint(
        "POST",
        "/api/serviceaccounts/hideApiKeys",
        (APIKEYS_WRITE,),
        outsider=200,
        prepare="delete_keys",
    ),
    Endpoint("POST", "/api/teams", (TEAMS_WRITE,), outsider=200, body={"name": "New"}),
    Endpoint("GET", "/api/teams/search", (TEAMS_WRITE,), outsider=200),
    Endpoint("GET", TEAM, (TEAMS_WRITE,)),
    Endpoint("PUT", TEAM, (TEAMS_WRITE,), body={"name": "Renamed"}),
    Endpoint("DELETE", TEAM, (TEAMS_WRITE,)),
    Endpoint("GET", TEAM + "/members", (TEAMS_WRITE,)),
    Endpoint("POST", TEAM + "/members", (TEAMS_WRITE,), body={"userId": "{vera}"}),
    Endpoint("DELETE", TEAM + "/members/{tina}", (TEAMS_WRITE,)),
    Endpoint("DELETE", TEAM + "/serviceaccounts/{sa}", (TEAMS_WRITE,)),
    Endpoint("GET", TEAM + "/permissions", (TEAMS_WRITE,)),
    Endpoint("PUT", TEAM + "/permissions", (TEAMS_WRITE,), body={"permissions": ["teams:write"]}),
    Endpoint("GET", "/api/permissions", (), outsider=200),
    Endpoint("POST", "/api/permissions", (TEAMS_WRITE,), 201, 201, {"name": "alerts:read"}),
    Endpoint("DELETE", "/api/permissions/metrics:ingest", (TEAMS_WRITE,)),
    Endpoint("GET", "/api/org/users", (USERS_WRITE, TEAMS_WRITE), outsider=200),
    Endpoint(
        "POST",
        "/api/org/users",
        (USERS_WRITE,),
        outsider=200,
        body={"loginOrEmail": "newcomer", "role": "Viewer"},
        users_only=True,
    ),
    Endpoint("PATCH", "/api/org/users/{tina}", (USERS_WRITE,), body={"role": "None"}),
    Endpoint("DELETE", "/api/org/users/{tina}", (USERS_WRITE,)),
    Endpoint(
        "POST", "/api/auth/introspect", (TOKENS_INTROSPECT,), outsider=200, body={"token": "x"}
    ),
    Endpoint(
        "POST",
        "/api/orgs/{org}/users",
        (USERS_WRITE,),
        body={"loginOrEmail": "newcomer", "role": "Viewer"},
        users_only=True,
    ),
]
PERSONAS = [
    "admin",
    "editor_with",
    "editor_without",
    "viewer",
    "token_with",
    "token_without",
    "outsider",
]


def expected_status(endpoint: Endpoint, persona: str) -> int:
    if persona == "outsider":
        return endpoint.outsider
    holds = persona in ("admin", "editor_with", "token_with") or not endpoint.needs
    if not holds or (endpoint.users_only and persona.startswith("token")):
        return 403
    return endpoint.ok


class World(SimpleNamespace):
    def delete_keys(self) -> None:
        ApiKey.objects.all().delete()

    def ids(self) -> dict:
        return {
            "org": self.org.pk,
            "sa": self.sa.pk,
            "token": self.token.pk,
            "key": self.key.pk,
            "team": self.team.pk,
            "tina": self.tina.pk,
            "vera": self.vera.pk,
        }


@pytest.fixture
def world(org, other_org, admin, viewer, org_admin, make_account, make_key) -> World:
    make_user("oscar", other_org, Role.ADMIN)
    make_user("newcomer", None, None)
    tina = make_user("tina", org, Role.VIEWER)
    sa = make_account("target")
    token, _ = token_create(identity=org_admin, account=sa, name="t0", expires_at=None)
    key, _ = make_key("k1")
    team = Team.objects.create(org=org, name="Target team")
    TeamMember.objects.create(team=team, user=tina)
    TeamMember.objects.create(team=team, service_account=sa)
    Permission.objects.create(org=org, name="metrics:ingest")
    return World(
        org=org, sa=sa, token=token, key=key, team=team, tina=tina, vera=viewer, admin=admin
    )


def credential(persona: str, endpoint: Endpoint, world: World, org_admin) -> dict:
    """Authorization for the persona, set up to hold (or not) what the endpoint needs."""
    implying = {other for name in endpoint.needs for other in IMPLIED_BY.get(name, ())}
    others = [n for n in BUILTIN_PERMISSIONS if n not in endpoint.needs and n not in implying]
    held = {"with": endpoint.needs[:1], "without": others}
    if persona.startswith("editor"):
        editor = make_user(persona, world.org, Role.EDITOR)
        grant(editor, *held[persona.split("_")[1]])
        return {"as_user": persona}
    if persona.startswith("token"):
        account = ServiceAccount.objects.create(
            org=world.org, name=persona, login=f"sa-{persona}", role=Role.VIEWER
        )
        grant(account, *held[persona.split("_")[1]])
        _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
        return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    return {"as_user": {"admin": "alice", "viewer": "vera", "outsider": "oscar"}[persona]}


def state() -> tuple:
    """Everything an endpoint here may change."""
    return (
        sorted(
            Organization.objects.values_list("pk", "api_keys_migrated_at", "api_keys_hidden"),
            key=str,
        ),
        sorted(ServiceAccount.objects.values_list("pk", "name", "role", "is_disabled"), key=str),
        sorted(
            ServiceAccountToken.objects.values_list("pk", "name", "is_revoked", "expires_at"),
            key=str,
        ),
        sorted(ApiKey.objects.values_list("pk", "name", "migrated_at"), key=str),
        sorted(Team.objects.values_list("pk", "name"), key=str),
        sorted(TeamMember.objects.values_list("team_id", "user_id", "service_account_id"), key=str),
        sorted(TeamPermission.objects.values_list("team_id", "permission"), key=str),
        sorted(
            ServiceAccountPermission.objects.values_list("service_account_id", "permission"),
            key=str,
        ),
        sorted(Permission.objects.values_list("org_id", "name"), key=str),
        sorted(Membership.objects.values_list("org_id", "user_id", "role"), key=str),
    )


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.id for e in ENDPOINTS])
def test_access(client: Client, world, org_admin, endpoint: Endpoint, persona: str):
    auth = credential(persona, endpoint, world, org_admin)
    if endpoint.prepare:
        getattr(world, endpoint.prepare)()
    ids = world.ids()
    body = endpoint.body
    if body is not None:  # "{vera}" stands for the persona's id
        body = {k: ids[v[1:-1]] if str(v).startswith("{") else v for k, v in body.items()}
    before = state()
    response = call(client, endpoint.method, endpoint.path.format(**ids), body, **auth)
    expected = expected_status(endpoint, persona)
    assert response.status_code == expected, response.content
    assert response.status_code < 400 or set(response.json()) == {"message"}
    if response.status_code >= 400:
        assert state() == before


def test_every_management_endpoint_is_in_the_matrix():
    """A new endpoint under these prefixes must join the matrix."""
    managed = ("/api/serviceaccounts", "/api/auth/keys", "/api/teams", "/api/permissions")
    managed_paths = {
        "/api/org/users",
        "/api/org/users/{userId}",
        "/api/orgs/{orgId}/users",
        "/api/auth/introspect",
    }
    documented = {
        (method.upper(), path)
        for path, item in OPENAPI["paths"].items()
        for method in item
        if method != "parameters" and (path.startswith(managed) or path in managed_paths)
    }

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path).replace("metrics:ingest", "{}")

    covered = {(e.method, shape(e.path)) for e in ENDPOINTS}
    assert {(m, shape(p)) for m, p in documented} == covered
