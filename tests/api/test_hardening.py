"""Hostile or odd input never produces a 500 and never leaks a secret."""

import base64
import json

import pytest
from django.core.exceptions import ValidationError

from accounts.errors import NotFound
from accounts.models import ServiceAccount
from accounts.services import service_account_update
from apikeys.services import hide_api_keys
from tests.helpers import basic_auth, call, make_user

pytestmark = pytest.mark.django_db


def test_deeply_nested_json_body_is_a_400(client, admin):
    response = call(client, "POST", "/api/serviceaccounts", "[" * 5000)
    assert response.status_code == 400


def test_deeply_nested_legacy_key_is_a_401(client, admin):
    crafted = base64.b64encode(b"[" * 5000).decode()
    response = client.get("/api/org", HTTP_AUTHORIZATION=f"Bearer {crafted}")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer glsa_\x00",
        "Basic " + base64.b64encode(b"al\x00ice:pw").decode(),
        "Basic " + base64.b64encode(b"x" * 300 + b":pw").decode(),
    ],
)
def test_nul_bytes_and_huge_usernames_in_credentials_are_401(client, admin, header):
    assert client.get("/api/org", HTTP_AUTHORIZATION=header).status_code == 401


def test_nul_bytes_in_json_strings_are_400(client, admin):
    response = call(client, "POST", "/api/serviceaccounts", {"name": "bad\x00name"})
    assert response.status_code == 400
    body = {"loginOrEmail": "a\x00", "role": "Viewer"}
    org_id = admin.current_org_id
    assert call(client, "POST", f"/api/orgs/{org_id}/users", body).status_code == 400


def test_nul_bytes_in_search_queries_are_ignored(client, admin, admin_client, make_account):
    make_account("robot")
    response = call(client, "GET", "/api/serviceaccounts/search?query=rob%00ot")
    assert response.status_code == 200
    assert admin_client.get("/org/serviceaccounts", {"query": "rob\x00"}).status_code == 200


@pytest.mark.parametrize("name", ["ß" * 190, "İ" * 190, "ﬃ" * 100])
def test_names_that_grow_when_normalised_are_refused(client, admin, name):
    response = call(client, "POST", "/api/serviceaccounts", {"name": name})
    assert response.status_code == 400
    assert not ServiceAccount.objects.exists()


def test_secret_bearing_api_responses_are_not_cacheable(client, admin, make_account):
    account = make_account("robot")
    response = call(client, "POST", f"/api/serviceaccounts/{account.pk}/tokens", {"name": "t"})
    assert response["Cache-Control"] == "no-store"
    body = {"name": "k", "role": "Viewer", "secondsToLive": 60}
    assert call(client, "POST", "/api/auth/keys", body)["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_huge_api_key_lifetime_is_refused_even_without_a_maximum(admin_client, settings):
    settings.KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE = -1
    response = admin_client.post(
        "/org/apikeys/new", {"name": "k", "role": "Viewer", "ttl": "999999999M"}
    )
    assert response.status_code == 200
    assert b"must be at most" in response.content


def test_api_keys_page_cannot_be_hidden_while_keys_remain(client, org_admin, org, make_key):
    make_key("still here")
    with pytest.raises(ValidationError):
        hide_api_keys(identity=org_admin)
    assert call(client, "POST", "/api/serviceaccounts/hideApiKeys").status_code == 400
    org.refresh_from_db()
    assert not org.api_keys_hidden


@pytest.mark.parametrize("sa_id", ["+1", "1_0", "\u0661", " 1", "01x"])
def test_ids_have_exactly_one_spelling(client, admin, make_account, sa_id):
    make_account("robot")
    assert call(client, "GET", f"/api/serviceaccounts/{sa_id}").status_code == 404


def test_an_edit_racing_a_delete_does_not_resurrect_the_account(org_admin, make_account):
    account = make_account("robot")
    stale = ServiceAccount.objects.get(pk=account.pk)
    account.delete()
    with pytest.raises(NotFound):
        service_account_update(identity=org_admin, account=stale, is_disabled=True)
    assert not ServiceAccount.objects.exists()


def test_basic_login_with_an_at_sign_in_the_username(client, db):
    make_user("ops@team", None, None, is_superuser=True)
    assert client.get("/api/orgs", **basic_auth("ops@team")).status_code == 200


def test_openapi_document_is_json(client):
    assert json.loads(client.get("/api/openapi.json").content)["openapi"].startswith("3.")
