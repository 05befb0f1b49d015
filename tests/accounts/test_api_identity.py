import json
import tomllib
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import MAIN_ORG_ID, Membership, Organization, User
from tests.helpers import PASSWORD, basic_auth

pytestmark = pytest.mark.django_db

PROJECT_VERSION = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())[
    "project"
]["version"]


def post_json(client, url: str, body, **headers):
    payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, payload, content_type="application/json", **headers)


def test_health_needs_no_credentials(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "version": PROJECT_VERSION}


def test_main_org_exists_after_migrate():
    assert Organization.objects.get(pk=MAIN_ORG_ID).name == "Main Org."


def test_current_org_with_basic_auth(client, admin, org):
    response = client.get("/api/org", **basic_auth("alice"))
    assert response.status_code == 200
    assert response.json() == {
        "id": org.pk,
        "name": "Acme",
        "address": {
            "address1": "",
            "address2": "",
            "city": "",
            "zipCode": "",
            "state": "",
            "country": "",
        },
    }
    assert client.get("/api/org/", **basic_auth("alice")).json()["id"] == org.pk


def test_basic_auth_accepts_email_as_login(client, viewer, org):
    response = client.get("/api/org", **basic_auth("vera@example.com"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Basic !!!notbase64"},
        {"HTTP_AUTHORIZATION": "Basic"},
        {"HTTP_AUTHORIZATION": "Digest abc"},
        basic_auth("alice", "wrong-password"),
        basic_auth("nosuchuser"),
    ],
)
def test_api_refuses_missing_or_bad_credentials(client, admin, headers):
    response = client.get("/api/org", **headers)
    assert response.status_code == 401
    assert set(response.json()) == {"message"}


def test_api_ignores_session_cookie(admin_client):
    assert admin_client.get("/api/org").status_code == 401


def test_repeated_basic_auth_failures_are_throttled(client, admin):
    for _ in range(5):
        client.get("/api/org", **basic_auth("alice", "wrong"))
    response = client.get("/api/org", **basic_auth("alice"))
    assert response.status_code == 429
    assert "Too many" in response.json()["message"]


def test_org_header_picks_a_member_org(client, admin, org, other_org):
    Membership.objects.create(org=other_org, user=admin, role="Viewer")
    response = client.get(
        "/api/org", HTTP_X_GRAFANA_ORG_ID=str(other_org.pk), **basic_auth("alice")
    )
    assert response.json()["id"] == other_org.pk


def test_org_header_for_a_non_member_org_is_refused(client, admin, other_org):
    response = client.get(
        "/api/org", HTTP_X_GRAFANA_ORG_ID=str(other_org.pk), **basic_auth("alice")
    )
    assert response.status_code == 401


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999999"])
def test_malformed_org_header_is_a_bad_request(client, admin, value):
    response = client.get("/api/org", HTTP_X_GRAFANA_ORG_ID=value, **basic_auth("alice"))
    assert response.status_code == 400


def test_current_user(client, admin, org):
    response = client.get("/api/user", **basic_auth("alice"))
    assert response.json() == {
        "id": admin.pk,
        "login": "alice",
        "email": "alice@example.com",
        "name": "",
        "orgId": org.pk,
        "isGrafanaAdmin": False,
    }


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/org"),
        ("delete", "/api/user"),
        ("put", "/api/orgs"),
        ("get", "/api/admin/users"),
        ("get", "/api/orgs/1/users"),
        ("post", "/api/health"),
    ],
)
def test_wrong_method_is_405(client, server_admin, method, url):
    response = getattr(client, method)(url, **basic_auth("root"))
    assert response.status_code == 405
    assert response.json() == {"message": "Method not allowed"}


class TestOrgs:
    def test_server_admin_lists_and_creates_orgs(self, client, server_admin, org):
        response = post_json(client, "/api/orgs", {"name": "Initech"}, **basic_auth("root"))
        assert response.status_code == 200
        body = response.json()
        assert body["message"] == "Organization created"
        created = Organization.objects.get(pk=body["orgId"])
        assert created.memberships.get(user=server_admin).role == "Admin"
        names = [o["name"] for o in client.get("/api/orgs", **basic_auth("root")).json()]
        assert {"Acme", "Initech", "Main Org."} <= set(names)

    def test_duplicate_org_name_is_a_conflict_whatever_the_case(self, client, server_admin, org):
        response = post_json(client, "/api/orgs", {"name": "  ACME "}, **basic_auth("root"))
        assert response.status_code == 409

    @pytest.mark.parametrize(
        "body", ["not json", "[]", {"name": 5}, {"name": ""}, {}, {"name": "x" * 191}]
    )
    def test_bad_org_bodies_are_400(self, client, server_admin, body):
        response = post_json(client, "/api/orgs", body, **basic_auth("root"))
        assert response.status_code == 400
        assert response.json()["message"]

    def test_org_admin_is_not_a_server_admin(self, client, admin):
        assert client.get("/api/orgs", **basic_auth("alice")).status_code == 403
        response = post_json(client, "/api/orgs", {"name": "Mine"}, **basic_auth("alice"))
        assert response.status_code == 403


class TestAdminUsers:
    def test_server_admin_creates_a_user_in_main_org(self, client, server_admin):
        body = {"name": "Bob", "email": "bob@example.com", "login": "bob", "password": PASSWORD}
        response = post_json(client, "/api/admin/users", body, **basic_auth("root"))
        assert response.status_code == 200
        assert response.json()["message"] == "User created"
        user = User.objects.get(pk=response.json()["id"])
        assert user.check_password(PASSWORD)
        assert user.memberships.get().org_id == MAIN_ORG_ID

    def test_duplicate_login_or_email_is_409(self, client, server_admin, admin):
        for body in (
            {"login": "alice", "password": PASSWORD},
            {"login": "x", "email": "ALICE@example.com", "password": PASSWORD},
        ):
            response = post_json(client, "/api/admin/users", body, **basic_auth("root"))
            assert response.status_code == 409

    @pytest.mark.parametrize(
        "body",
        [
            {"login": "bob"},
            {"login": "bob", "password": "123"},
            {"login": 7, "password": PASSWORD},
            {"password": PASSWORD},
            {"login": "bob", "password": PASSWORD, "OrgId": "one"},
        ],
    )
    def test_bad_user_bodies_are_400(self, client, server_admin, body):
        response = post_json(client, "/api/admin/users", body, **basic_auth("root"))
        assert response.status_code == 400

    def test_unknown_org_id_is_404(self, client, server_admin):
        body = {"login": "bob", "password": PASSWORD, "OrgId": 999999}
        response = post_json(client, "/api/admin/users", body, **basic_auth("root"))
        assert response.status_code == 404

    def test_org_admin_cannot_create_users(self, client, admin):
        body = {"login": "bob", "password": PASSWORD}
        response = post_json(client, "/api/admin/users", body, **basic_auth("alice"))
        assert response.status_code == 403


class TestOrgUsers:
    def test_org_admin_adds_a_user_to_their_org(self, client, admin, org, outsider):
        body = {"loginOrEmail": "oscar@example.com", "role": "Editor"}
        response = post_json(client, f"/api/orgs/{org.pk}/users", body, **basic_auth("alice"))
        assert response.status_code == 200
        assert response.json() == {"message": "User added to organization", "userId": outsider.pk}
        assert Membership.objects.get(org=org, user=outsider).role == "Editor"

    def test_adding_a_member_twice_is_409(self, client, admin, org, viewer):
        body = {"loginOrEmail": "vera", "role": "Viewer"}
        response = post_json(client, f"/api/orgs/{org.pk}/users", body, **basic_auth("alice"))
        assert response.status_code == 409

    def test_another_orgs_id_is_404(self, client, admin, other_org):
        body = {"loginOrEmail": "alice", "role": "Viewer"}
        url = f"/api/orgs/{other_org.pk}/users"
        assert post_json(client, url, body, **basic_auth("alice")).status_code == 404

    @pytest.mark.parametrize("org_id", ["abc", "0", "-3", "99999999999999999999999"])
    def test_impossible_org_ids_are_404(self, client, admin, org_id):
        body = {"loginOrEmail": "alice", "role": "Viewer"}
        url = f"/api/orgs/{org_id}/users"
        assert post_json(client, url, body, **basic_auth("alice")).status_code == 404

    def test_editor_is_forbidden(self, client, editor, org):
        body = {"loginOrEmail": "alice", "role": "Viewer"}
        url = f"/api/orgs/{org.pk}/users"
        assert post_json(client, url, body, **basic_auth("eddie")).status_code == 403

    @pytest.mark.parametrize(
        "body",
        [{"loginOrEmail": "x", "role": "Owner"}, {"role": "Viewer"}, {"loginOrEmail": "x"}, "{"],
    )
    def test_bad_bodies_are_400(self, client, admin, org, body):
        url = f"/api/orgs/{org.pk}/users"
        assert post_json(client, url, body, **basic_auth("alice")).status_code == 400

    def test_unknown_user_is_404(self, client, admin, org):
        body = {"loginOrEmail": "ghost", "role": "Viewer"}
        url = f"/api/orgs/{org.pk}/users"
        assert post_json(client, url, body, **basic_auth("alice")).status_code == 404


def test_unknown_api_paths_are_json_404s(client):
    for url in ("/api/nope", "/api/serviceaccounts/1/", "/api/serviceaccounts/1/tokens/2/x"):
        response = client.post(url)
        assert response.status_code == 404
        assert response.json() == {"message": "Not found"}


def test_logins_and_emails_are_unique_ignoring_case_and_emails_are_validated(
    client, server_admin, admin
):
    body = {"login": "ALICE", "password": PASSWORD}
    assert post_json(client, "/api/admin/users", body, **basic_auth("root")).status_code == 409
    body = {"login": "bob", "email": "not-an-email", "password": PASSWORD}
    assert post_json(client, "/api/admin/users", body, **basic_auth("root")).status_code == 400
