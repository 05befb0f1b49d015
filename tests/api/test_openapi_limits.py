"""The served OpenAPI document states this server's limits, and the server accepts everything
the document calls valid."""

import json
import re

import pytest

from accounts.api import openapi_document
from tests.helpers import call

pytestmark = pytest.mark.django_db


def served(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def key_lifetime(document: dict) -> tuple[dict, list]:
    request = document["components"]["schemas"]["NewApiKeyRequest"]
    return request["properties"]["secondsToLive"], request["required"]


def token_lifetime(document: dict) -> dict:
    return document["components"]["schemas"]["TokenSecondsToLive"]


def test_by_default_api_keys_need_a_lifetime_within_30_days(client, admin):
    lifetime, required = key_lifetime(served(client))
    assert (lifetime["minimum"], lifetime["maximum"]) == (1, 30 * 86400)
    assert "secondsToLive" in required
    body = {"name": "k", "role": "Viewer"}
    assert call(client, "POST", "/api/auth/keys", {**body, "secondsToLive": 0}).status_code == 400
    assert call(client, "POST", "/api/auth/keys", body).status_code == 400
    ok = {**body, "secondsToLive": 30 * 86400}
    assert call(client, "POST", "/api/auth/keys", ok).status_code == 200


def test_without_an_api_key_limit_a_lifetime_is_optional(client, admin, settings):
    settings.KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE = -1
    lifetime, required = key_lifetime(served(client))
    assert (lifetime["minimum"], lifetime["maximum"]) == (0, 3153600000)
    assert "secondsToLive" not in required
    body = {"name": "k", "role": "Viewer", "secondsToLive": 0}
    assert call(client, "POST", "/api/auth/keys", body).status_code == 200


def test_a_token_day_limit_is_stated_and_enforced(client, admin, make_account, settings):
    assert token_lifetime(served(client))["minimum"] == 0
    settings.KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT = 30
    lifetime = token_lifetime(served(client))
    assert (lifetime["minimum"], lifetime["maximum"]) == (1, 30 * 86400)
    assert "default" not in lifetime
    url = f"/api/serviceaccounts/{make_account('robot').pk}/tokens"
    assert call(client, "POST", url, {"name": "a", "secondsToLive": 0}).status_code == 400
    assert call(client, "POST", url, {"name": "b", "secondsToLive": 30 * 86400}).status_code == 200


def test_the_served_document_is_the_one_the_tests_check(client):
    assert served(client) == openapi_document()


@pytest.mark.parametrize(("value", "status"), [(60.0, 200), (1e3, 200), (60.5, 400)])
def test_whole_numbers_written_as_decimals_are_integers(client, admin, value, status):
    body = {"name": f"k{value}", "role": "Viewer", "secondsToLive": value}
    assert call(client, "POST", "/api/auth/keys", body).status_code == status


@pytest.mark.parametrize("name", ["tab\there", "\x7f", "   ", "bad \ufffd"])
def test_names_the_document_refuses_are_refused(client, admin, name):
    pattern = openapi_document()["components"]["schemas"]["Name"]["pattern"]
    assert not re.search(pattern, name)
    response = call(client, "POST", "/api/serviceaccounts", {"name": name})
    assert response.status_code == 400
