import base64
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.errors import Conflict, RoleCeilingExceeded
from accounts.roles import Role
from apikeys import format as key_format
from apikeys.models import ApiKey
from apikeys.services import ApiKeysMigrated, parse_ttl
from tests.helpers import basic_api_key, bearer, call
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db


class TestFormat:
    def test_classic_grafana_shape(self):
        key = key_format.generate("deploy", 7)
        data = json.loads(base64.b64decode(key))
        assert set(data) == {"k", "n", "id"}
        assert (data["n"], data["id"], len(data["k"])) == ("deploy", 7, 32)
        assert key_format.parse(key) == key_format.ParsedKey(data["k"], "deploy", 7)

    @pytest.mark.parametrize(
        "candidate",
        [
            "",
            "not base64!",
            base64.b64encode(b"[1,2]").decode(),
            base64.b64encode(b'{"k": "x", "n": "a"}').decode(),
            base64.b64encode(b'{"k": "x", "n": "a", "id": "1"}').decode(),
            base64.b64encode(b'{"k": "x", "n": "a", "id": true}').decode(),
            base64.b64encode(b'{"k": "", "n": "a", "id": 1}').decode(),
            base64.b64encode(b"\xff\xfe").decode(),
            "glsa_iNValIdinValiDinvalidinvalidinva_5b582697",
        ],
    )
    def test_malformed_keys_are_rejected(self, candidate):
        assert key_format.parse(candidate) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1M", 2592000),
        ("", 0),
        (" 1d ", 86400),
    ],
)
def test_ttl_units(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["1", "d", "1y", "-1d", "1.5h", "1 d", "10000000000s", "1D"])
def test_bad_ttls_are_not_valid_durations(text):
    with pytest.raises(ValidationError, match="Not a valid duration"):
        parse_ttl(text)


class TestCreate:
    def test_stores_only_the_digest(self, make_key):
        key, secret = make_key("deploy", Role.EDITOR)
        assert key.digest == key_format.digest(secret)
        assert secret not in str(ApiKey.objects.values_list().get())

    def test_max_ttl_rules(self, make_key, settings):
        with pytest.raises(ValidationError, match="should be set"):
            make_key(seconds_to_live=0)
        with pytest.raises(ValidationError, match="greater than the global limit"):
            make_key(seconds_to_live=31 * 86400)
        settings.KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE = -1
        key, _ = make_key("forever", seconds_to_live=0)
        assert key.expires_at is None

    def test_duplicate_names_conflict(self, make_key):
        make_key("deploy")
        with pytest.raises(Conflict):
            make_key("DEPLOY")

    def test_role_ceiling(self, make_key, org, editor):
        from accounts.access import Identity

        acting_editor = Identity(kind="user", org=org, role=Role.EDITOR, user=editor)
        with pytest.raises(RoleCeilingExceeded):
            make_key(role=Role.ADMIN, identity=acting_editor)

    def test_refused_after_migration(self, make_key, org):
        org.api_keys_migrated_at = timezone.now()
        org.save()
        with pytest.raises(ApiKeysMigrated):
            make_key()


class TestAuth:
    def test_key_acts_with_its_own_role_in_its_org(self, client, org, make_key):
        _, viewer_secret = make_key("viewer", Role.VIEWER)
        _, admin_secret = make_key("admin", Role.ADMIN)
        for headers in (bearer(viewer_secret), basic_api_key(viewer_secret)):
            response = client.get("/api/org", **headers)
            assert response.status_code == 200
            assert response.json()["id"] == org.pk
        assert client.get("/api/serviceaccounts/search", **bearer(viewer_secret)).status_code == 403
        assert client.get("/api/serviceaccounts/search", **bearer(admin_secret)).status_code == 200

    def test_one_query_authenticates_a_key_migrated_or_not(
        self, client, admin, make_key, django_assert_num_queries
    ):
        key, secret = make_key()
        client.get("/api/org", **bearer(secret))  # the first use writes last_used_at
        with django_assert_num_queries(1):
            assert client.get("/api/org", **bearer(secret)).status_code == 200
        assert call(client, "POST", f"/api/serviceaccounts/migrate/{key.pk}").status_code == 200
        client.get("/api/org", **bearer(secret))  # now as the token: its first use
        with django_assert_num_queries(1):
            assert client.get("/api/org", **bearer(secret)).status_code == 200
        assert ServiceAccountToken.objects.get(digest=key.digest).last_used_at is not None

    def test_rejections_are_all_the_same_401(self, client, make_key, other_org):
        _, revoked = make_key("revoked")
        ApiKey.objects.filter(name="revoked").update(is_revoked=True)
        _, expired = make_key("expired")
        ApiKey.objects.filter(name="expired").update(expires_at=timezone.now())
        deleted_key, deleted = make_key("deleted")
        deleted_key.delete()
        _, good = make_key("good")
        forged = key_format.generate("good", 1)
        cases = [
            bearer(revoked),
            bearer(expired),
            bearer(deleted),
            bearer(forged),
            {**bearer(good), "HTTP_X_GRAFANA_ORG_ID": str(other_org.pk)},
        ]
        bodies = set()
        for headers in cases:
            response = client.get("/api/org", **headers)
            assert response.status_code == 401
            bodies.add(response.content)
        assert bodies == {b'{"message": "Invalid API key"}'}

    def test_last_used_is_throttled(self, client, make_key):
        key, secret = make_key()
        client.get("/api/org", **bearer(secret))
        key.refresh_from_db()
        first = key.last_used_at
        assert first is not None
        client.get("/api/org", **bearer(secret))
        key.refresh_from_db()
        assert key.last_used_at == first

    def test_expired_key_use_does_not_touch_last_used(self, client, make_key):
        key, secret = make_key()
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        client.get("/api/org", **bearer(secret))
        key.refresh_from_db()
        assert key.last_used_at is None


# The longest names, in the characters that take the most room in a key: 4-byte emoji, and
# the ones JSON must escape.
LONGEST_NAMES = ["😀" * 190, "\U0001d518" * 190, '"' * 190, "\\" * 190, "a" + "\u2028" * 188 + "a"]


@pytest.mark.parametrize("name", LONGEST_NAMES, ids=["emoji", "astral", "quote", "backslash", "ls"])
def test_keys_for_the_longest_names_authenticate(client, make_key, name):
    _, secret = make_key(name)
    assert key_format.parse(secret) is not None
    assert client.get("/api/org", **bearer(secret)).status_code == 200


def test_the_longest_possible_key_fits_the_parser():
    longest = key_format.generate("😀" * ApiKey.NAME_MAX_LENGTH, 2**63 - 1)
    assert len(longest) <= key_format.MAX_KEY_LENGTH
    assert key_format.parse(longest).name == "😀" * ApiKey.NAME_MAX_LENGTH


def test_a_key_made_in_the_ui_for_the_longest_name_authenticates(client, admin_client):
    response = admin_client.post(
        "/org/apikeys/new", {"name": "🔑" * 190, "role": "Viewer", "ttl": "1d"}
    )
    secret = response.context["secret"]
    assert client.get("/api/org", **bearer(secret)).status_code == 200


def test_a_key_made_through_the_api_for_the_longest_name_authenticates(client, admin):
    body = {"name": "🗝" * 190, "role": "Viewer", "secondsToLive": 60}
    secret = json.loads(call(client, "POST", "/api/auth/keys", body).content)["key"]
    assert client.get("/api/org", **bearer(secret)).status_code == 200
