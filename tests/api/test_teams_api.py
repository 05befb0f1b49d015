"""/api/teams…, /api/permissions, /api/serviceaccounts/<id>/permissions and /api/org/users:
shapes, statuses and the rules behind them (access by persona is in test_access_matrix)."""

import pytest

from accounts.models import Membership, Permission, Team, TeamMember, TeamPermission
from accounts.roles import Role
from accounts.services import service_account_create
from accounts.teams.catalogue import BUILTIN_PERMISSIONS
from tests.helpers import call, grant, identity_of, make_user
from tokens.services import token_create

pytestmark = pytest.mark.django_db

TEAM_FIELDS = {
    "id",
    "orgId",
    "name",
    "email",
    "memberCount",
    "permissions",
    "builtIn",
    "created",
    "updated",
}


@pytest.fixture
def everyone(org) -> Team:
    return Team.objects.get(org=org, is_everyone=True)


def create_team(client, name="Ops", email=""):
    response = call(client, "POST", "/api/teams", {"name": name, "email": email})
    assert response.status_code == 200, response.content
    return response.json()["teamId"]


# --- Teams ----------------------------------------------------------------------------------


def test_create_get_update_delete(client, admin, org):
    response = call(client, "POST", "/api/teams", {"name": "Ops", "email": "ops@example.com"})
    body = response.json()
    assert set(body) == {"message", "teamId"}
    assert body["message"] == "Team created"
    team_id = body["teamId"]

    team = call(client, "GET", f"/api/teams/{team_id}").json()
    assert set(team) == TEAM_FIELDS
    assert (team["id"], team["orgId"], team["name"], team["email"]) == (
        team_id,
        org.pk,
        "Ops",
        "ops@example.com",
    )
    assert (team["memberCount"], team["permissions"], team["builtIn"]) == (0, [], False)
    assert team["created"].endswith("Z")

    response = call(client, "PUT", f"/api/teams/{team_id}", {"name": "Operations"})
    assert response.json() == {"message": "Team updated"}
    assert Team.objects.get(pk=team_id).name == "Operations"

    response = call(client, "DELETE", f"/api/teams/{team_id}")
    assert response.json() == {"message": "Team deleted"}
    assert call(client, "GET", f"/api/teams/{team_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"name": ""}, 400),
        ({"name": 5}, 400),
        ({"name": "x", "email": "nope"}, 400),
        ({"name": "x", "email": 1}, 400),
        ("[]", 400),
        ({"name": "ops"}, 409),
        ({"name": "Everyone"}, 409),
    ],
)
def test_create_refuses_bad_or_taken_names(client, admin, org, body, status):
    create_team(client, "Ops")
    response = call(client, "POST", "/api/teams", body)
    assert response.status_code == status
    assert set(response.json()) == {"message"}
    assert Team.objects.filter(org=org).count() == 2  # Everyone and Ops


def test_search_lists_everyone_as_built_in_with_the_org_as_members(
    client, admin, editor, make_account, everyone
):
    make_account("bot")
    TeamPermission.objects.create(team=everyone, permission="serviceaccounts:read")
    ops = create_team(client, "Ops")
    call(client, "POST", f"/api/teams/{ops}/members", {"userId": editor.pk})
    body = call(client, "GET", "/api/teams/search").json()
    assert (body["totalCount"], body["page"], body["perPage"]) == (2, 1, 1000)
    listed = {team["name"]: team for team in body["teams"]}
    assert listed["Everyone"]["builtIn"] is True
    assert listed["Everyone"]["memberCount"] == 3  # alice, eddie and the bot
    assert listed["Everyone"]["permissions"] == ["serviceaccounts:read"]
    assert (listed["Ops"]["builtIn"], listed["Ops"]["memberCount"]) == (False, 1)


def test_search_by_query_name_and_pages(client, admin):
    for name in ("ci-alpha", "ci-beta", "ci-gamma", "deploy"):
        create_team(client, name)
    first = call(client, "GET", "/api/teams/search?query=CI&perpage=2").json()
    assert [t["name"] for t in first["teams"]] == ["ci-alpha", "ci-beta"]
    assert (first["totalCount"], first["perPage"]) == (3, 2)
    second = call(client, "GET", "/api/teams/search?query=ci&perpage=2&page=2").json()
    assert [t["name"] for t in second["teams"]] == ["ci-gamma"]
    past = call(client, "GET", "/api/teams/search?query=ci&perpage=2&page=9").json()
    assert past["teams"] == []
    exact = call(client, "GET", "/api/teams/search?name=CI-BETA").json()
    assert [t["name"] for t in exact["teams"]] == ["ci-beta"]
    assert call(client, "GET", "/api/teams/search?name=ci").json()["teams"] == []
    for bad in ("perpage=0", "perpage=1001", "page=x"):
        assert call(client, "GET", f"/api/teams/search?{bad}").status_code == 400


def test_everyone_refuses_changes_with_400(client, admin, editor, everyone, make_account):
    account = make_account("bot")
    url = f"/api/teams/{everyone.pk}"
    cases = [
        ("PUT", url, {"name": "All"}),
        ("DELETE", url, None),
        ("POST", f"{url}/members", {"userId": editor.pk}),
        ("POST", f"{url}/members", {"serviceAccountId": account.pk}),
        ("DELETE", f"{url}/members/{editor.pk}", None),
        ("DELETE", f"{url}/serviceaccounts/{account.pk}", None),
    ]
    for method, path, body in cases:
        response = call(client, method, path, body)
        assert response.status_code == 400, (method, path)
        assert "Everyone" in response.json()["message"]
    assert Team.objects.get(pk=everyone.pk).name == "Everyone"
    assert not TeamMember.objects.exists()


def test_members_of_both_kinds(client, admin, editor, org, make_account):
    account = make_account("Deploy bot")
    team_id = create_team(client)
    url = f"/api/teams/{team_id}/members"
    assert call(client, "POST", url, {"userId": editor.pk}).json() == {
        "message": "Member added to Team"
    }
    assert call(client, "POST", url, {"serviceAccountId": account.pk}).status_code == 200
    assert call(client, "POST", url, {"userId": editor.pk}).status_code == 409
    members = call(client, "GET", url).json()
    assert members == [
        {
            "orgId": org.pk,
            "teamId": team_id,
            "userId": editor.pk,
            "serviceAccountId": None,
            "kind": "user",
            "login": "eddie",
            "email": "eddie@example.com",
            "name": "",
        },
        {
            "orgId": org.pk,
            "teamId": team_id,
            "userId": None,
            "serviceAccountId": account.pk,
            "kind": "serviceAccount",
            "login": account.login,
            "email": "",
            "name": "Deploy bot",
        },
    ]
    assert call(client, "GET", f"/api/serviceaccounts/{account.pk}").json()["teams"] == [
        "Everyone",
        "Ops",
    ]
    response = call(client, "DELETE", f"/api/teams/{team_id}/members/{editor.pk}")
    assert response.json() == {"message": "Team Member removed"}
    response = call(client, "DELETE", f"/api/teams/{team_id}/serviceaccounts/{account.pk}")
    assert response.json() == {"message": "Team Member removed"}
    assert call(client, "GET", url).json() == []
    assert call(client, "DELETE", f"/api/teams/{team_id}/members/{editor.pk}").status_code == 404


def test_everyones_members_are_the_whole_org(client, admin, editor, everyone, make_account):
    account = make_account("bot")
    members = call(client, "GET", f"/api/teams/{everyone.pk}/members").json()
    assert [(m["kind"], m["login"]) for m in members] == [
        ("user", "alice"),
        ("user", "eddie"),
        ("serviceAccount", account.login),
    ]


@pytest.mark.parametrize(
    "body", [{}, {"userId": 1, "serviceAccountId": 1}, {"userId": "1"}, {"userId": True}]
)
def test_add_member_needs_exactly_one_id(client, admin, body):
    team_id = create_team(client)
    assert call(client, "POST", f"/api/teams/{team_id}/members", body).status_code == 400


def test_members_from_another_org_are_404(client, admin, outsider, other_org):
    foreign = service_account_create(identity=identity_of(outsider, other_org), name="foreign")
    team_id = create_team(client)
    url = f"/api/teams/{team_id}/members"
    assert call(client, "POST", url, {"userId": outsider.pk}).status_code == 404
    assert call(client, "POST", url, {"serviceAccountId": foreign.pk}).status_code == 404
    assert call(client, "POST", url, {"userId": 10**12}).status_code == 404
    assert not TeamMember.objects.exists()


# --- Team and service account permissions ---------------------------------------------------


def test_team_permissions_get_and_replace(client, admin, org):
    Permission.objects.create(org=org, name="metrics:ingest")
    team_id = create_team(client)
    url = f"/api/teams/{team_id}/permissions"
    assert call(client, "GET", url).json() == {"permissions": []}
    response = call(client, "PUT", url, {"permissions": ["teams:write", "metrics:ingest"]})
    assert response.json() == {
        "message": "Team permissions updated",
        "permissions": ["metrics:ingest", "teams:write"],
    }
    call(client, "PUT", url, {"permissions": ["metrics:ingest", "metrics:ingest"]})
    assert call(client, "GET", url).json() == {"permissions": ["metrics:ingest"]}


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["nope:nope"]},
        {"permissions": ["teams:write", 3]},
        {"permissions": "teams:write"},
        {"permissions": ["a\x00:b"]},
        '{"permissions": ["\\ud800:x"]}',  # a lone surrogate: no text the database can take
        {},
    ],
)
def test_unknown_permissions_and_bad_bodies_are_400(client, admin, make_account, body):
    team_id = create_team(client)
    account = make_account("bot")
    for url in (
        f"/api/teams/{team_id}/permissions",
        f"/api/serviceaccounts/{account.pk}/permissions",
    ):
        response = call(client, "PUT", url, body)
        assert response.status_code == 400, url
    assert not TeamPermission.objects.exists()


def test_granting_what_you_do_not_hold_is_403(client, editor, make_account):
    grant(editor, "teams:write", "serviceaccounts:write")
    response = call(client, "POST", "/api/teams", {"name": "Ops"}, as_user="eddie")
    team_id = response.json()["teamId"]
    url = f"/api/teams/{team_id}/permissions"
    response = call(client, "PUT", url, {"permissions": ["users:write"]}, as_user="eddie")
    assert response.status_code == 403
    assert "users:write" in response.json()["message"]
    response = call(client, "PUT", url, {"permissions": ["teams:write"]}, as_user="eddie")
    assert response.status_code == 200


def test_service_account_permissions_with_effective_sources(
    client, admin, org, make_account, everyone
):
    account = make_account("bot")
    TeamPermission.objects.create(team=everyone, permission="serviceaccounts:read")
    team_id = create_team(client, "Writers")
    call(client, "PUT", f"/api/teams/{team_id}/permissions", {"permissions": ["apikeys:write"]})
    call(client, "POST", f"/api/teams/{team_id}/members", {"serviceAccountId": account.pk})
    url = f"/api/serviceaccounts/{account.pk}/permissions"
    response = call(client, "PUT", url, {"permissions": ["apikeys:write"]})
    assert response.status_code == 200
    expected = {
        "permissions": ["apikeys:write"],
        "effective": [
            {"permission": "serviceaccounts:read", "sources": ["team:Everyone"]},
            {"permission": "apikeys:write", "sources": ["individual", "team:Writers"]},
        ],
    }
    assert response.json() == {"message": "Service account permissions updated", **expected}
    assert call(client, "GET", url).json() == expected

    call(client, "PATCH", f"/api/serviceaccounts/{account.pk}", {"role": "Admin"})
    effective = call(client, "GET", url).json()["effective"]
    assert len(effective) == 7
    assert effective[0] == {
        "permission": "serviceaccounts:read",
        "sources": ["role:Admin", "team:Everyone"],
    }


def test_a_grant_applies_to_the_next_request_of_every_token(client, admin, make_account, org_admin):
    account = make_account("bot")
    secrets = [
        token_create(identity=org_admin, account=account, name=n, expires_at=None)[1]
        for n in ("one", "two")
    ]
    for secret in secrets:
        auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        assert client.get("/api/serviceaccounts/search", **auth).status_code == 403
    url = f"/api/serviceaccounts/{account.pk}/permissions"
    call(client, "PUT", url, {"permissions": ["serviceaccounts:read"]})
    for secret in secrets:
        auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        assert client.get("/api/serviceaccounts/search", **auth).status_code == 200
    call(client, "PUT", url, {"permissions": []})
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secrets[0]}"}
    assert client.get("/api/serviceaccounts/search", **auth).status_code == 403


# --- The catalogue --------------------------------------------------------------------------


def test_catalogue_lists_builtins_then_custom(client, admin, viewer):
    response = call(client, "POST", "/api/permissions", {"name": "metrics:ingest"})
    assert response.status_code == 201
    assert response.json() == {"name": "metrics:ingest", "description": "", "builtIn": False}
    call(client, "POST", "/api/permissions", {"name": "alerts:read", "description": "Alerts"})
    listed = call(client, "GET", "/api/permissions", as_user="vera").json()
    names = [p["name"] for p in listed]
    assert names == [*BUILTIN_PERMISSIONS, "alerts:read", "metrics:ingest"]
    assert listed[0]["builtIn"] is True
    assert listed[0]["description"]
    assert listed[7] == {"name": "alerts:read", "description": "Alerts", "builtIn": False}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "metrics:ingest"}, 409),
        ({"name": "teams:write"}, 409),
        ({"name": "teams:delete"}, 400),
        ({"name": "Metrics:Ingest"}, 400),
        ({"name": "metrics"}, 400),
        ({"name": "m:" + "x" * 99}, 400),
        ({"name": "a:b", "description": "x" * 501}, 400),
        ({}, 400),
        ({"name": ["a:b"]}, 400),
    ],
)
def test_catalogue_refusals(client, admin, body, status):
    call(client, "POST", "/api/permissions", {"name": "metrics:ingest"})
    response = call(client, "POST", "/api/permissions", body)
    assert response.status_code == status
    assert Permission.objects.count() == 1


def test_deleting_permissions(client, admin, org, make_account):
    call(client, "POST", "/api/permissions", {"name": "metrics:ingest"})
    account = make_account("bot")
    url = f"/api/serviceaccounts/{account.pk}/permissions"
    call(client, "PUT", url, {"permissions": ["metrics:ingest"]})
    assert call(client, "DELETE", "/api/permissions/metrics:ingest").json() == {
        "message": "Permission deleted"
    }
    assert call(client, "GET", url).json()["permissions"] == []
    assert call(client, "DELETE", "/api/permissions/metrics:ingest").status_code == 404
    response = call(client, "DELETE", "/api/permissions/teams:write")
    assert response.status_code == 400
    assert "built-in" in response.json()["message"]


@pytest.mark.parametrize("name", ["%00", "metrics:ingest%00"])
def test_deleting_a_permission_named_with_a_nul_is_404(client, admin, name):
    call(client, "POST", "/api/permissions", {"name": "metrics:ingest"})
    response = call(client, "DELETE", f"/api/permissions/{name}")
    assert response.status_code == 404
    assert "message" in response.json()
    assert Permission.objects.filter(name="metrics:ingest").exists()


# --- Org users ------------------------------------------------------------------------------


def test_org_users_list_in_grafanas_shape(client, admin, editor, org):
    users = call(client, "GET", "/api/org/users").json()
    assert [(u["login"], u["role"]) for u in users] == [("alice", "Admin"), ("eddie", "Editor")]
    assert set(users[0]) == {"orgId", "userId", "email", "name", "login", "role", "lastSeenAt"}
    assert (users[0]["orgId"], users[0]["userId"], users[0]["email"]) == (
        org.pk,
        admin.pk,
        "alice@example.com",
    )


def test_add_change_and_remove_a_member(client, admin, org, other_org):
    newcomer = make_user("newcomer", other_org, Role.VIEWER)
    body = {"loginOrEmail": "NEWCOMER@example.com", "role": "Editor"}
    response = call(client, "POST", "/api/org/users", body)
    assert response.json() == {"message": "User added to organization", "userId": newcomer.pk}
    assert call(client, "POST", "/api/org/users", body).status_code == 409
    ghost = {"loginOrEmail": "ghost", "role": "Viewer"}
    assert call(client, "POST", "/api/org/users", ghost).status_code == 404

    url = f"/api/org/users/{newcomer.pk}"
    assert call(client, "PATCH", url, {"role": "Viewer"}).json() == {
        "message": "Organization user updated"
    }
    assert Membership.objects.get(org=org, user=newcomer).role == Role.VIEWER
    assert call(client, "PATCH", url, {"role": "Boss"}).status_code == 400
    assert call(client, "PATCH", url, {}).status_code == 400
    assert call(client, "DELETE", url).json() == {"message": "User removed from organization"}
    assert call(client, "DELETE", url).status_code == 404
    assert call(client, "PATCH", f"/api/org/users/{10**12}", {"role": "Viewer"}).status_code == 404


def test_the_last_admin_cannot_be_demoted_or_removed(client, admin, org):
    url = f"/api/org/users/{admin.pk}"
    response = call(client, "PATCH", url, {"role": "Editor"})
    assert response.status_code == 400
    assert "no organization admin left" in response.json()["message"]
    assert call(client, "DELETE", url).status_code == 400
    assert Membership.objects.get(org=org, user=admin).role == Role.ADMIN


def test_tokens_and_keys_cannot_add_members(
    client, admin, org, other_org, org_admin, make_account, make_key
):
    make_user("newcomer", other_org, Role.VIEWER)
    account = make_account("root-bot", role=Role.ADMIN)
    _, token = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    _, key = make_key("k", role=Role.ADMIN)
    body = {"loginOrEmail": "newcomer", "role": "Admin"}
    for secret in (token, key):
        auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        for url in ("/api/org/users", f"/api/orgs/{org.pk}/users"):
            response = call(client, "POST", url, body, **auth)
            assert response.status_code == 403, (url, response.content)
            assert "Only users" in response.json()["message"]
        assert call(client, "GET", "/api/org/users", **auth).status_code == 200
    assert not Membership.objects.filter(user__username="newcomer", org=org).exists()
