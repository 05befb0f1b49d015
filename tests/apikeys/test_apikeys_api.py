from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.access import Identity
from accounts.roles import Role
from apikeys import format as key_format
from apikeys.models import ApiKey
from tests.helpers import bearer, call

pytestmark = pytest.mark.django_db


def test_create_list_delete(client, admin, org):
    response = call(
        client, "POST", "/api/auth/keys", {"name": "ci", "role": "Editor", "secondsToLive": 600}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "name", "key"}
    parsed = key_format.parse(body["key"])
    assert (parsed.name, parsed.org_id) == ("ci", org.pk)
    listed = call(client, "GET", "/api/auth/keys").json()
    assert len(listed) == 1
    assert set(listed[0]) == {"id", "name", "role", "expiration"}
    assert listed[0]["role"] == "Editor"
    assert body["key"] not in str(listed)
    assert call(client, "DELETE", f"/api/auth/keys/{body['id']}").json() == {
        "message": "API key deleted"
    }
    assert call(client, "GET", "/api/auth/keys").json() == []
    assert client.get("/api/org", **bearer(body["key"])).status_code == 401


def test_expired_keys_only_with_include_expired(client, admin, make_key):
    key, _ = make_key("old")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    make_key("fresh")
    names = [k["name"] for k in call(client, "GET", "/api/auth/keys").json()]
    assert names == ["fresh"]
    url = "/api/auth/keys?includeExpired=true"
    assert [k["name"] for k in call(client, "GET", url).json()] == ["fresh", "old"]


@pytest.mark.parametrize(
    "body",
    [
        {"role": "Viewer", "secondsToLive": 60},
        {"name": "x", "secondsToLive": 60},
        {"name": "x", "role": "Boss", "secondsToLive": 60},
        {"name": "x", "role": "Viewer", "secondsToLive": -1},
        {"name": "x", "role": "Viewer", "secondsToLive": "60"},
        {"name": "x", "role": "Viewer"},  # the 30-day maximum needs an expiry
        {"name": "x", "role": "Viewer", "secondsToLive": 31 * 86400},
        "nonsense",
    ],
)
def test_bad_bodies_are_400(client, admin, body):
    response = call(client, "POST", "/api/auth/keys", body)
    assert response.status_code == 400
    assert set(response.json()) == {"message"}


def test_duplicate_name_is_409(client, admin, make_key):
    make_key("ci")
    body = {"name": "CI", "role": "Viewer", "secondsToLive": 60}
    assert call(client, "POST", "/api/auth/keys", body).status_code == 409


def test_creation_after_migration_is_410(client, admin, make_key):
    make_key("ci")
    assert call(client, "POST", "/api/serviceaccounts/migrate").status_code == 200
    body = {"name": "new", "role": "Viewer", "secondsToLive": 60}
    response = call(client, "POST", "/api/auth/keys", body)
    assert response.status_code == 410
    assert "service account" in response.json()["message"]


def test_migrate_all_result_and_status(client, admin, make_key):
    assert call(client, "GET", "/api/serviceaccounts/migrationstatus").json() == {"migrated": False}
    make_key("a")
    make_key("b")
    result = call(client, "POST", "/api/serviceaccounts/migrate").json()
    assert result == {
        "total": 2,
        "migrated": 2,
        "failed": 0,
        "failedApikeyIDs": [],
        "failedDetails": [],
    }
    assert call(client, "GET", "/api/serviceaccounts/migrationstatus").json() == {"migrated": True}
    assert call(client, "GET", "/api/auth/keys").json() == []
    again = call(client, "POST", "/api/serviceaccounts/migrate").json()
    assert again["total"] == 0


def test_migrated_key_is_listed_as_a_token(client, admin, make_key):
    key, _ = make_key("deploy")
    response = call(client, "POST", f"/api/serviceaccounts/migrate/{key.pk}")
    assert response.status_code == 200
    account_id = response.json()["serviceAccountId"]
    tokens = call(client, "GET", f"/api/serviceaccounts/{account_id}/tokens").json()
    assert [t["name"] for t in tokens] == ["deploy"]
    assert call(client, "GET", "/api/auth/keys").json() == []
    # Migrating one key does not close the org to new keys.
    assert call(client, "GET", "/api/serviceaccounts/migrationstatus").json() == {"migrated": False}


def test_migrate_one_404s(client, admin, make_key, other_org, outsider):
    key, _ = make_key("deploy")
    call(client, "POST", f"/api/serviceaccounts/migrate/{key.pk}")
    theirs, _ = make_key(
        "theirs", identity=Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider)
    )
    for key_id in (key.pk, theirs.pk, 999999, "abc", -1):
        assert call(client, "POST", f"/api/serviceaccounts/migrate/{key_id}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.migrated_at is None
    assert call(client, "DELETE", f"/api/auth/keys/{theirs.pk}").status_code == 404


def test_hide(client, admin, org):
    assert call(client, "POST", "/api/serviceaccounts/hideApiKeys").json() == {
        "message": "API keys hidden"
    }
    org.refresh_from_db()
    assert org.api_keys_hidden


@pytest.mark.parametrize("persona", ["editor", "viewer"])
def test_non_admins_are_forbidden(client, request, persona, make_key):
    user = request.getfixturevalue(persona)
    key, _ = make_key()
    for method, url in [
        ("GET", "/api/auth/keys"),
        ("POST", "/api/auth/keys"),
        ("DELETE", f"/api/auth/keys/{key.pk}"),
        ("POST", "/api/serviceaccounts/migrate"),
        ("POST", f"/api/serviceaccounts/migrate/{key.pk}"),
        ("GET", "/api/serviceaccounts/migrationstatus"),
        ("POST", "/api/serviceaccounts/hideApiKeys"),
    ]:
        assert call(client, method, url, {}, as_user=user.username).status_code == 403, url
    assert ApiKey.objects.get().migrated_at is None


def test_wrong_methods_are_405(client, admin):
    assert call(client, "GET", "/api/serviceaccounts/migrate").status_code == 405
    assert call(client, "POST", "/api/serviceaccounts/migrationstatus").status_code == 405
    assert call(client, "PUT", "/api/auth/keys").status_code == 405
