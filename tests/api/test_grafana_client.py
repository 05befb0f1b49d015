"""The real ``grafana-client`` package (PyPI) against a live Keyhouse server.

If these pass, scripts written for Grafana's service-account API work unchanged against
Keyhouse: same paths (including the trailing slash on create), same shapes, same statuses.
"""

from urllib.parse import urlsplit

import pytest
from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaBadInputError,
    GrafanaClientError,
    GrafanaUnauthorizedError,
)

from accounts.models import Membership, ServiceAccount
from accounts.roles import Role
from tests.helpers import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connect(live_server):
    """Build GrafanaApi clients for the live server; close their sessions afterwards.

    Closing matters: niquests keeps connections alive, and a server thread still holding one
    when the live server shuts down trips over the shared in-memory SQLite connection.
    """
    url = urlsplit(live_server.url)
    clients: list[GrafanaApi] = []

    def connect(auth) -> GrafanaApi:
        api = GrafanaApi(auth=auth, host=url.hostname, port=url.port, protocol="http", timeout=10)
        clients.append(api)
        return api

    yield connect
    for api in clients:
        api.client.s.close()


@pytest.fixture
def grafana(connect, admin) -> GrafanaApi:
    return connect(("alice", PASSWORD))


def test_current_org_and_user(grafana, org, admin):
    assert grafana.organization.get_current_organization()["id"] == org.pk
    user = grafana.user.get_actual_user()
    assert (user["id"], user["login"], user["orgId"]) == (admin.pk, "alice", org.pk)


def test_create_get_update_delete(grafana, org, admin):
    created = grafana.serviceaccount.create({"name": "grafana-bot", "role": "Editor"})
    account = ServiceAccount.objects.get(pk=created["id"])
    assert (account.org, account.name, account.role, account.is_disabled) == (
        org,
        "grafana-bot",
        Role.EDITOR,
        False,
    )
    assert created["login"] == account.login
    assert created["tokens"] == 0

    fetched = grafana.serviceaccount.get(account.pk)  # sends ?accesscontrol=true
    assert fetched == created | {"updatedAt": fetched["updatedAt"]}

    updated = grafana.serviceaccount.update(
        account.pk, {"name": "renamed-bot", "role": "Viewer", "isDisabled": True}
    )
    assert updated["message"] == "Service account updated"
    assert (updated["id"], updated["name"]) == (account.pk, "renamed-bot")
    assert updated["serviceaccount"]["role"] == "Viewer"
    account.refresh_from_db()
    assert (account.name, account.role, account.is_disabled) == ("renamed-bot", Role.VIEWER, True)
    assert account.login == created["login"], "a rename keeps the login"

    assert grafana.serviceaccount.delete(account.pk) == {"message": "Service account deleted"}
    assert not ServiceAccount.objects.filter(pk=account.pk).exists()


def test_create_defaults_to_viewer(grafana):
    created = grafana.serviceaccount.create({"name": "plain"})
    assert created["role"] == "Viewer"
    assert ServiceAccount.objects.get(pk=created["id"]).role == Role.VIEWER


def test_search_pages_until_an_empty_page(grafana, org):
    for name in ("ci-alpha", "ci-beta", "ci-gamma", "deploy"):
        grafana.serviceaccount.create({"name": name})

    # Without a page, grafana-client walks pages until one comes back empty.
    pages = grafana.serviceaccount.search(query="ci", perpage=2)
    assert [len(page["serviceAccounts"]) for page in pages] == [2, 1, 0]
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert {page["totalCount"] for page in pages} == {3}
    names = [account["name"] for page in pages for account in page["serviceAccounts"]]
    assert names == ["ci-alpha", "ci-beta", "ci-gamma"]

    only_page_two = grafana.serviceaccount.search(query="ci", page=2, perpage=2)
    assert [a["name"] for a in only_page_two[0]["serviceAccounts"]] == ["ci-gamma"]

    everything = grafana.serviceaccount.search_all()
    expected = ServiceAccount.objects.filter(org=org).values_list("pk", flat=True)
    assert sorted(a["id"] for a in everything) == sorted(expected)


def test_search_one(grafana):
    grafana.serviceaccount.create({"name": "ci-alpha"})
    grafana.serviceaccount.create({"name": "ci-beta"})

    found = grafana.serviceaccount.search_one("ALPHA")  # case-insensitive
    assert found["id"] == ServiceAccount.objects.get(name="ci-alpha").pk
    assert found["name"] == "ci-alpha"
    with pytest.raises(ValueError, match="More than one"):
        grafana.serviceaccount.search_one("ci")
    with pytest.raises(ValueError, match="No service account"):
        grafana.serviceaccount.search_one("nothing-like-this")


def test_search_only_sees_the_callers_org(connect, grafana, outsider):
    grafana.serviceaccount.create({"name": "ours"})
    theirs = connect(("oscar", PASSWORD))
    theirs.serviceaccount.create({"name": "theirs"})
    assert [a["name"] for a in grafana.serviceaccount.search_all()] == ["ours"]
    with pytest.raises(GrafanaClientError) as excinfo:
        grafana.serviceaccount.get(ServiceAccount.objects.get(name="theirs").pk)
    assert excinfo.value.status_code == 404


def test_errors_map_to_grafana_client_exceptions(connect, grafana, viewer):
    created = grafana.serviceaccount.create({"name": "dup"})

    with pytest.raises(GrafanaClientError) as excinfo:
        grafana.serviceaccount.create({"name": "DUP"})
    assert excinfo.value.status_code == 409
    assert "already exists" in excinfo.value.response["message"]

    with pytest.raises(GrafanaBadInputError):
        grafana.serviceaccount.create({"name": "x", "role": "Owner"})
    with pytest.raises(GrafanaBadInputError):
        grafana.serviceaccount.update(created["id"], {"isDisabled": "yes"})

    with pytest.raises(GrafanaClientError) as excinfo:
        grafana.serviceaccount.get(10**9)
    assert excinfo.value.status_code == 404

    with pytest.raises(GrafanaUnauthorizedError):
        connect(("alice", "wrong-password")).serviceaccount.get(created["id"])

    with pytest.raises(GrafanaClientError) as excinfo:
        connect(("vera", PASSWORD)).serviceaccount.search_all()
    assert excinfo.value.status_code == 403

    assert list(ServiceAccount.objects.values_list("name", flat=True)) == ["dup"]


def test_tokens_round_trip(connect, grafana):
    account = grafana.serviceaccount.create({"name": "with-tokens"})
    new = grafana.serviceaccount.create_token(account["id"], {"name": "ci", "secondsToLive": 3600})
    assert set(new) == {"id", "name", "key"}
    listed = grafana.serviceaccount.get_tokens(account["id"])
    assert [(t["id"], t["name"], t["hasExpired"]) for t in listed] == [(new["id"], "ci", False)]
    assert "key" not in listed[0]
    assert grafana.serviceaccount.get(account["id"])["tokens"] == 1

    # The new token works as a bearer credential with grafana-client's token auth.
    as_token = connect(new["key"])  # a str: grafana-client sends it as a bearer token
    assert as_token.organization.get_current_organization()["id"] == account["orgId"]

    deleted = grafana.serviceaccount.delete_token(account["id"], new["id"])
    assert deleted == {"message": "Service account token deleted"}
    assert grafana.serviceaccount.get_tokens(account["id"]) == []


def test_teams_round_trip(grafana, org, editor):
    created = grafana.teams.add_team({"name": "Ops", "email": "ops@example.com"})
    assert created["message"] == "Team created"
    team_id = created["teamId"]

    teams = grafana.teams.search_teams()  # walks pages until a short one
    assert {team["name"]: team["builtIn"] for team in teams} == {"Everyone": True, "Ops": False}
    assert [t["id"] for t in grafana.teams.search_teams(query="op", page=1, perpage=10)] == [
        team_id
    ]
    assert grafana.teams.get_team_by_name("ops")[0]["id"] == team_id

    team = grafana.teams.get_team(team_id)
    assert (team["id"], team["orgId"], team["name"], team["email"]) == (
        team_id,
        org.pk,
        "Ops",
        "ops@example.com",
    )

    assert grafana.teams.add_team_member(team_id, editor.pk) == {"message": "Member added to Team"}
    members = grafana.teams.get_team_members(team_id)
    assert [(m["userId"], m["login"], m["teamId"]) for m in members] == [
        (editor.pk, "eddie", team_id)
    ]
    assert grafana.teams.remove_team_member(team_id, editor.pk) == {
        "message": "Team Member removed"
    }
    assert grafana.teams.get_team_members(team_id) == []

    assert grafana.teams.delete_team(team_id) == {"message": "Team deleted"}
    with pytest.raises(GrafanaClientError) as excinfo:
        grafana.teams.get_team(team_id)
    assert excinfo.value.status_code == 404


def test_everyone_refuses_changes(grafana, org, editor):
    everyone = grafana.teams.get_team_by_name("Everyone")[0]
    with pytest.raises(GrafanaBadInputError):
        grafana.teams.delete_team(everyone["id"])
    with pytest.raises(GrafanaBadInputError):
        grafana.teams.add_team_member(everyone["id"], editor.pk)


def test_current_organization_users(grafana, org, admin, other_org):
    newcomer = make_user("newcomer", other_org, Role.VIEWER)
    users = grafana.organization.get_current_organization_users()
    assert [(u["login"], u["role"], u["orgId"]) for u in users] == [("alice", "Admin", org.pk)]

    added = grafana.organization.add_user_current_organization(
        {"loginOrEmail": "newcomer@example.com", "role": "Viewer"}
    )
    assert added == {"message": "User added to organization", "userId": newcomer.pk}
    updated = grafana.organization.update_user_current_organization(newcomer.pk, {"role": "Editor"})
    assert updated == {"message": "Organization user updated"}
    roles = {u["login"]: u["role"] for u in grafana.organization.get_current_organization_users()}
    assert roles == {"alice": "Admin", "newcomer": "Editor"}

    with pytest.raises(GrafanaBadInputError):  # the last Admin stays
        grafana.organization.update_user_current_organization(admin.pk, {"role": "Viewer"})

    removed = grafana.organization.delete_user_current_organization(newcomer.pk)
    assert removed == {"message": "User removed from organization"}
    assert not Membership.objects.filter(org=org, user=newcomer).exists()
    with pytest.raises(GrafanaClientError) as excinfo:
        grafana.organization.delete_user_current_organization(newcomer.pk)
    assert excinfo.value.status_code == 404


def test_org_invites_with_the_clients_own_requests(grafana, org, admin):
    """grafana-client has no invite calls: scripts send them through its generic client."""
    sent = grafana.client.POST(
        "/org/invites",
        json={
            "loginOrEmail": "new@example.com",
            "name": "New",
            "role": "Editor",
            "sendEmail": True,
        },
    )
    assert sent["message"] == "Sent invite to new@example.com"
    (pending,) = grafana.client.GET("/org/invites")
    assert (pending["email"], pending["role"], pending["code"]) == (
        "new@example.com",
        "Editor",
        sent["code"],
    )
    with pytest.raises(GrafanaClientError) as refused:
        grafana.client.POST("/org/invites", json={"loginOrEmail": "alice", "role": "Viewer"})
    assert refused.value.status_code == 409
    revoked = grafana.client.DELETE(f"/org/invites/{sent['code']}/revoke")
    assert revoked == {"message": "Invite revoked"}
    assert grafana.client.GET("/org/invites") == []
