from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import call
from tokens import format as token_format
from tokens.models import ServiceAccountToken
from tokens.services import DAY_LIMIT_MESSAGE

pytestmark = pytest.mark.django_db

TOKEN_FIELDS = {
    "id",
    "name",
    "created",
    "lastUsedAt",
    "expiration",
    "secondsUntilExpiration",
    "hasExpired",
    "isRevoked",
    "revokedAt",
    "rotatedAt",
    "lastUsedIp",
    "lastUsedUserAgent",
}


def url(account) -> str:
    return f"/api/serviceaccounts/{account.pk}/tokens"


def test_create_returns_the_key_once_and_stores_only_its_digest(client, admin, account):
    response = call(client, "POST", url(account), {"name": "ci", "secondsToLive": 0})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "name", "key"}
    assert token_format.parse(body["key"]) is not None
    token = ServiceAccountToken.objects.get(pk=body["id"])
    assert token.digest == token_format.digest(body["key"])
    assert token.expires_at is None
    listed = call(client, "GET", url(account)).json()
    assert body["key"] not in str(listed)
    assert [set(item) for item in listed] == [TOKEN_FIELDS]


def test_list_shape_and_expiry_fields(client, admin, account, make_token):
    now = timezone.now()
    make_token("never")
    make_token("soon", expires_at=now + timedelta(days=2))
    make_token("later", expires_at=now + timedelta(days=30))
    make_token("old", expires_at=now + timedelta(days=1))
    ServiceAccountToken.objects.filter(name="old").update(expires_at=now - timedelta(days=1))
    tokens = {item["name"]: item for item in call(client, "GET", url(account)).json()}
    assert tokens["never"]["expiration"] is None
    assert tokens["never"]["secondsUntilExpiration"] == 0
    assert 0 < tokens["soon"]["secondsUntilExpiration"] <= 2 * 86400
    assert tokens["later"]["secondsUntilExpiration"] == 0
    assert tokens["old"]["hasExpired"] is True
    assert tokens["soon"]["hasExpired"] is False
    assert tokens["never"]["lastUsedAt"] is None
    assert tokens["soon"]["created"].endswith("Z")


def test_seconds_to_live_sets_the_expiry(client, admin, account):
    body = call(client, "POST", url(account), {"name": "ci", "secondsToLive": 3600}).json()
    token = ServiceAccountToken.objects.get(pk=body["id"])
    assert timedelta(minutes=59) < token.expires_at - timezone.now() <= timedelta(hours=1)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "secondsToLive": -1},
        {"name": "x", "secondsToLive": 1.5},
        {"name": "x", "secondsToLive": "60"},
        {"name": "x", "secondsToLive": True},
        {"name": "x", "secondsToLive": 10**30},
        {"name": ""},
        {"secondsToLive": 60},
        {"name": ["x"]},
        "[]",
        "{oops",
    ],
)
def test_bad_create_bodies_are_400(client, admin, account, body):
    response = call(client, "POST", url(account), body)
    assert response.status_code == 400
    assert set(response.json()) == {"message"}
    assert not ServiceAccountToken.objects.exists()


def test_duplicate_token_name_is_409(client, admin, account, make_token):
    make_token("ci")
    assert call(client, "POST", url(account), {"name": "CI"}).status_code == 409


def test_same_token_name_on_another_account_is_fine(client, admin, account, make_account):
    other = make_account("other")
    assert call(client, "POST", url(account), {"name": "ci"}).status_code == 200
    assert call(client, "POST", url(other), {"name": "ci"}).status_code == 200


class TestDayLimit:
    @pytest.fixture(autouse=True)
    def _limit(self, settings):
        settings.KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT = 30

    def test_within_the_limit_is_fine(self, client, admin, account):
        body = {"name": "ok", "secondsToLive": 30 * 86400}
        assert call(client, "POST", url(account), body).status_code == 200

    def test_beyond_the_limit_is_400_with_grafanas_message(self, client, admin, account):
        body = {"name": "long", "secondsToLive": 32 * 86400}
        response = call(client, "POST", url(account), body)
        assert response.status_code == 400
        assert response.json() == {"message": DAY_LIMIT_MESSAGE}

    def test_no_expiry_is_refused_when_a_limit_is_set(self, client, admin, account):
        response = call(client, "POST", url(account), {"name": "forever"})
        assert response.status_code == 400
        assert "30 days" in response.json()["message"]

    def test_api_key_maximum_does_not_apply_to_tokens(self, client, admin, account, settings):
        settings.KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE = 60
        body = {"name": "ok", "secondsToLive": 86400}
        assert call(client, "POST", url(account), body).status_code == 200


def test_delete(client, admin, account, make_token):
    token, secret = make_token()
    response = call(client, "DELETE", f"{url(account)}/{token.pk}")
    assert response.json() == {"message": "Service account token deleted"}
    assert not ServiceAccountToken.objects.exists()
    assert client.get("/api/org", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_token_of_another_account_is_404(client, admin, account, make_account, make_token):
    other = make_account("other")
    token, _ = make_token(target=other)
    assert call(client, "DELETE", f"{url(account)}/{token.pk}").status_code == 404
    assert ServiceAccountToken.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("token_id", ["x", "0", "-5", "99999999999999999999"])
def test_impossible_token_ids_are_404(client, admin, account, token_id):
    assert call(client, "DELETE", f"{url(account)}/{token_id}").status_code == 404


def test_another_orgs_account_is_404(client, outsider, account):
    assert call(client, "GET", url(account), as_user="oscar").status_code == 404
    assert call(client, "POST", url(account), {"name": "x"}, as_user="oscar").status_code == 404


@pytest.mark.parametrize("persona", ["editor", "viewer"])
def test_non_admins_are_forbidden(client, request, persona, account, make_token):
    user = request.getfixturevalue(persona)
    token, _ = make_token()
    for method, target, body in [
        ("GET", url(account), None),
        ("POST", url(account), {"name": "x"}),
        ("DELETE", f"{url(account)}/{token.pk}", None),
    ]:
        assert call(client, method, target, body, as_user=user.username).status_code == 403


def test_wrong_methods_are_405(client, admin, account, make_token):
    token, _ = make_token()
    assert call(client, "PUT", url(account), {}).status_code == 405
    assert call(client, "GET", f"{url(account)}/{token.pk}").status_code == 405
