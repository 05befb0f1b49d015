"""Rename, revoke and rotate through the API (and the services behind it): the rules, and what
each does to the secrets that are out there."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import isoformat
from accounts.roles import Role
from tests.helpers import basic_auth, bearer, call, grant, in_parallel, needs_postgresql
from tokens import format as token_format
from tokens.models import ServiceAccountToken
from tokens.services import DAY_LIMIT_MESSAGE, token_revoke, token_rotate

pytestmark = pytest.mark.django_db


def url(account, token=None, action: str = "") -> str:
    base = f"/api/serviceaccounts/{account.pk}/tokens"
    if token is None:
        return base
    return f"{base}/{token.pk}" + (f"/{action}" if action else "")


def works(client, secret: str) -> bool:
    status = client.get("/api/org", **bearer(secret)).status_code
    assert status in (200, 401)
    return status == 200


class TestRename:
    def test_renames_and_the_secret_keeps_working(self, client, admin, account, make_token):
        token, secret = make_token("ci")
        response = call(client, "PATCH", url(account, token), {"name": "  deploy  "})
        assert response.status_code == 200
        assert response.json()["name"] == "deploy"
        assert response.json()["id"] == token.pk
        token.refresh_from_db()
        assert (token.name, token.name_key) == ("deploy", "deploy")
        assert token.digest == token_format.digest(secret)
        assert works(client, secret)

    def test_a_name_taken_on_the_same_account_is_409_ignoring_case(
        self, client, admin, account, make_token
    ):
        make_token("deploy")
        token, _ = make_token("ci")
        response = call(client, "PATCH", url(account, token), {"name": "DEPLOY"})
        assert response.status_code == 409
        assert response.json() == {
            "message": "A token named 'DEPLOY' already exists for this service account."
        }
        token.refresh_from_db()
        assert token.name == "ci"

    def test_renaming_to_its_own_name_in_another_case_is_fine(
        self, client, admin, account, make_token
    ):
        token, _ = make_token("ci")
        assert call(client, "PATCH", url(account, token), {"name": "CI"}).status_code == 200

    def test_the_same_name_on_another_account_is_fine(
        self, client, admin, account, make_account, make_token
    ):
        make_token("deploy", target=make_account("other"))
        token, _ = make_token("ci")
        assert call(client, "PATCH", url(account, token), {"name": "deploy"}).status_code == 200

    @pytest.mark.parametrize(
        "body",
        [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 191}, {"name": "a\nb"}, {"name": 5}],
    )
    def test_bad_names_are_400(self, client, admin, account, make_token, body):
        token, _ = make_token("ci")
        response = call(client, "PATCH", url(account, token), body)
        assert response.status_code == 400
        assert set(response.json()) == {"message"}
        token.refresh_from_db()
        assert token.name == "ci"


class TestRevoke:
    def test_revoked_is_401_at_once_yet_still_listed(self, client, admin, account, make_token):
        token, secret = make_token("ci")
        assert works(client, secret)
        response = call(client, "POST", url(account, token, "revoke"))
        assert response.status_code == 200
        body = response.json()
        assert body["isRevoked"] is True
        assert body["revokedAt"] is not None
        assert not works(client, secret)
        listed = call(client, "GET", url(account)).json()
        assert [(item["name"], item["isRevoked"]) for item in listed] == [("ci", True)]

    def test_revoking_twice_is_a_no_op_200(self, client, admin, account, make_token, clock):
        token, _ = make_token("ci")
        first = call(client, "POST", url(account, token, "revoke")).json()
        clock.advance(hours=1)
        second = call(client, "POST", url(account, token, "revoke"))
        assert second.status_code == 200
        assert second.json() == first
        assert first["revokedAt"] == isoformat(ServiceAccountToken.objects.get().revoked_at)

    def test_other_tokens_keep_working(self, client, admin, account, make_token):
        token, _ = make_token("proxy-1")
        _, other = make_token("proxy-2")
        call(client, "POST", url(account, token, "revoke"))
        assert works(client, other)

    def test_deleting_a_revoked_token_still_works(
        self, client, admin, account, make_token, org_admin
    ):
        token, _ = make_token("ci")
        token_revoke(identity=org_admin, token=token)
        assert call(client, "DELETE", url(account, token)).status_code == 200
        assert not ServiceAccountToken.objects.exists()


class TestRotate:
    def rotate(self, client, account, token, **body):
        return call(client, "POST", url(account, token, "rotate"), body)

    def test_the_new_token_takes_the_name_and_the_old_one_is_renamed(
        self, client, admin, account, make_token, clock
    ):
        token, _ = make_token("ci")
        response = self.rotate(client, account, token, graceSeconds=3600, secondsToLive=86400)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"id", "name", "key", "replaces", "oldExpiresAt"}
        assert (body["name"], body["replaces"]) == ("ci", token.pk)
        assert body["oldExpiresAt"] == isoformat(clock.now + timedelta(hours=1))
        old = ServiceAccountToken.objects.get(pk=token.pk)
        new = ServiceAccountToken.objects.get(pk=body["id"])
        assert old.name == f"ci (rotated {clock.now:%Y-%m-%d})"
        assert (old.rotated_at, old.expires_at) == (clock.now, clock.now + timedelta(hours=1))
        assert new.expires_at == clock.now + timedelta(days=1)
        assert new.digest == token_format.digest(body["key"])
        listed = {item["name"]: item for item in call(client, "GET", url(account)).json()}
        assert listed[old.name]["rotatedAt"] == isoformat(clock.now)
        assert listed["ci"]["rotatedAt"] is None

    def test_both_secrets_work_during_the_grace_window_then_only_the_new_one(
        self, client, admin, account, make_token, clock
    ):
        token, old_secret = make_token("ci")
        new_secret = self.rotate(client, account, token, graceSeconds=3600).json()["key"]
        assert works(client, old_secret)
        assert works(client, new_secret)
        clock.advance(minutes=59)
        assert works(client, old_secret)
        clock.advance(minutes=1)
        assert not works(client, old_secret)
        assert works(client, new_secret)

    def test_grace_defaults_to_24_hours(self, client, admin, account, make_token, clock):
        token, old_secret = make_token("ci")
        body = self.rotate(client, account, token).json()
        assert body["oldExpiresAt"] == isoformat(clock.now + timedelta(hours=24))
        clock.advance(hours=23, minutes=59)
        assert works(client, old_secret)
        clock.advance(minutes=1)
        assert not works(client, old_secret)

    def test_grace_zero_stops_the_old_token_at_once(self, client, admin, account, make_token):
        token, old_secret = make_token("ci")
        new_secret = self.rotate(client, account, token, graceSeconds=0).json()["key"]
        assert not works(client, old_secret)
        assert works(client, new_secret)

    def test_the_grace_never_extends_the_old_expiry(
        self, client, admin, account, make_token, clock
    ):
        token, _ = make_token("ci", expires_at=clock.now + timedelta(minutes=30))
        body = self.rotate(client, account, token, graceSeconds=86400).json()
        assert body["oldExpiresAt"] == isoformat(clock.now + timedelta(minutes=30))

    def test_the_new_secret_appears_in_exactly_one_response(
        self, client, admin, account, make_token
    ):
        token, _ = make_token("ci")
        secret = self.rotate(client, account, token).json()["key"]
        later = [
            call(client, "GET", url(account)),
            call(client, "GET", f"/api/serviceaccounts/{account.pk}"),
            call(client, "GET", "/api/serviceaccounts/search"),
            self.rotate(client, account, token),  # refused: already rotated
        ]
        assert all(secret not in response.content.decode() for response in later)
        assert secret not in str(list(ServiceAccountToken.objects.values()))

    def test_a_rotated_token_cannot_be_rotated_again(self, client, admin, account, make_token):
        token, _ = make_token("ci")
        self.rotate(client, account, token)
        response = self.rotate(client, account, token)
        assert response.status_code == 409
        assert "already rotated" in response.json()["message"]
        assert ServiceAccountToken.objects.count() == 2

    def test_the_replacement_can_be_rotated_in_turn_on_the_same_day(
        self, client, admin, account, make_token, clock
    ):
        token, _ = make_token("ci")
        first = self.rotate(client, account, token, graceSeconds=0).json()
        replacement = ServiceAccountToken.objects.get(pk=first["id"])
        assert self.rotate(client, account, replacement).status_code == 200
        day = f"{clock.now:%Y-%m-%d}"
        assert sorted(ServiceAccountToken.objects.values_list("name", flat=True)) == [
            "ci",
            f"ci (rotated {day})",
            f"ci (rotated {day}, 2)",
        ]

    def test_a_long_name_is_shortened_to_fit_its_rotated_form(
        self, client, admin, account, make_token
    ):
        token, _ = make_token("x" * 190)
        assert self.rotate(client, account, token).status_code == 200
        old = ServiceAccountToken.objects.get(pk=token.pk)
        assert len(old.name) == 190
        assert old.name.endswith(")")

    def test_revoked_or_expired_tokens_cannot_be_rotated(
        self, client, admin, account, make_token, clock, org_admin
    ):
        revoked, _ = make_token("revoked")
        token_revoke(identity=org_admin, token=revoked)
        expiring, _ = make_token("expiring", expires_at=clock.now + timedelta(hours=1))
        clock.advance(hours=1)
        for token, reason in ((revoked, "is revoked"), (expiring, "has expired")):
            response = self.rotate(client, account, token)
            assert response.status_code == 400
            assert reason in response.json()["message"]
        assert ServiceAccountToken.objects.count() == 2

    def test_the_day_limit_applies_to_the_new_token(
        self, client, admin, account, make_token, settings
    ):
        token, _ = make_token("ci")
        settings.KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT = 30
        response = self.rotate(client, account, token, secondsToLive=31 * 86400)
        assert response.status_code == 400
        assert response.json() == {"message": DAY_LIMIT_MESSAGE}
        assert self.rotate(client, account, token).status_code == 400  # "never" is refused too
        token.refresh_from_db()
        assert (token.name, token.rotated_at) == ("ci", None)
        ok = self.rotate(client, account, token, secondsToLive=30 * 86400)
        assert ok.status_code == 200

    @pytest.mark.parametrize(
        "body",
        [
            {"graceSeconds": -1},
            {"graceSeconds": 7 * 86400 + 1},
            {"graceSeconds": 10**30},
            {"graceSeconds": "3600"},
            {"graceSeconds": 1.5},
            {"graceSeconds": True},
            {"secondsToLive": -1},
        ],
    )
    def test_bad_bodies_are_400_and_change_nothing(self, client, admin, account, make_token, body):
        token, _ = make_token("ci")
        response = self.rotate(client, account, token, **body)
        assert response.status_code == 400
        assert set(response.json()) == {"message"}
        assert ServiceAccountToken.objects.count() == 1
        token.refresh_from_db()
        assert (token.name, token.expires_at, token.rotated_at) == ("ci", None, None)

    def test_a_failure_half_way_leaves_the_old_token_as_it_was(
        self, client, admin, account, make_token, monkeypatch, org_admin
    ):
        from tokens import services

        token, secret = make_token("ci")

        def broken(*args, **kwargs):
            raise RuntimeError("crash after the old token was renamed")

        monkeypatch.setattr(services, "_save_new_token", broken)
        with pytest.raises(RuntimeError):
            token_rotate(identity=org_admin, token=token, grace=timedelta(hours=1), expires_at=None)
        token.refresh_from_db()
        assert (token.name, token.expires_at, token.rotated_at) == ("ci", None, None)
        assert works(client, secret)


class TestAccess:
    ACTIONS = [("PATCH", "", {"name": "x"}), ("POST", "revoke", None), ("POST", "rotate", {})]

    @pytest.mark.parametrize("persona", ["editor", "viewer", "no_role"])
    def test_lower_roles_are_forbidden(self, client, request, persona, account, make_token):
        user = request.getfixturevalue(persona)
        token, _ = make_token("ci")
        for method, action, body in self.ACTIONS:
            response = call(
                client, method, url(account, token, action), body, as_user=user.username
            )
            assert response.status_code == 403, (method, action)
        token.refresh_from_db()
        assert (token.name, token.is_revoked, token.rotated_at) == ("ci", False, None)

    def test_an_editor_with_serviceaccounts_write_may_rename_revoke_and_rotate(
        self, client, editor, make_account, make_token
    ):
        grant(editor, "serviceaccounts:write")
        bot = make_account("bot", role=Role.EDITOR)
        for method, action, body in self.ACTIONS:
            token, _ = make_token(f"t-{action or 'name'}", target=bot)
            response = call(client, method, url(bot, token, action), body, as_user="eddie")
            assert response.status_code == 200, (method, action, response.content)

    def test_rotating_hands_out_the_account_so_it_needs_what_the_account_holds(
        self, client, editor, account, make_token
    ):
        grant(editor, "serviceaccounts:write")
        token, _ = make_token("ci")  # of an Admin-role account
        response = call(client, "POST", url(account, token, "rotate"), {}, as_user="eddie")
        assert response.status_code == 403
        assert "role is higher than yours" in response.json()["message"]
        token.refresh_from_db()
        assert (token.name, token.rotated_at) == ("ci", None)
        assert ServiceAccountToken.objects.count() == 1

    def test_an_editor_with_serviceaccounts_write_cannot_touch_an_admin_accounts_tokens(
        self, client, editor, account, make_token
    ):
        grant(editor, "serviceaccounts:write")
        token, secret = make_token("ci")  # of an Admin-role account
        for method, action, body in [*self.ACTIONS, ("DELETE", "", None)]:
            response = call(client, method, url(account, token, action), body, as_user="eddie")
            assert response.status_code == 403, (method, action)
            assert "role is higher than yours" in response.json()["message"]
        token.refresh_from_db()
        assert (token.name, token.is_revoked, token.rotated_at) == ("ci", False, None)
        assert works(client, secret)

    def test_another_orgs_admin_gets_404(self, client, outsider, account, make_token):
        token, _ = make_token("ci")
        for method, action, body in self.ACTIONS:
            response = call(client, method, url(account, token, action), body, as_user="oscar")
            assert response.status_code == 404, (method, action)
        assert ServiceAccountToken.objects.count() == 1

    def test_a_token_of_another_account_is_404(
        self, client, admin, account, make_account, make_token
    ):
        token, _ = make_token("ci", target=make_account("other"))
        for method, action, body in self.ACTIONS:
            response = call(client, method, url(account, token, action), body)
            assert response.status_code == 404, (method, action)

    def test_wrong_methods_are_405(self, client, admin, account, make_token):
        token, _ = make_token("ci")
        for action in ("revoke", "rotate"):
            for method in ("GET", "PATCH", "DELETE"):
                assert call(client, method, url(account, token, action)).status_code == 405

    def test_an_admin_token_may_rotate_itself(self, client, account, make_token):
        token, secret = make_token("self")
        response = client.post(
            url(account, token, "rotate"),
            {"graceSeconds": 60},
            content_type="application/json",
            **bearer(secret),
        )
        assert response.status_code == 200
        assert works(client, response.json()["key"])


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_two_concurrent_rotations_make_one_new_token(admin, account, make_token):
    token, _ = make_token("ci")

    def rotate():
        body = {"graceSeconds": 60}
        return Client().post(
            url(account, token, "rotate"),
            body,
            content_type="application/json",
            **basic_auth("alice"),
        )

    responses = in_parallel(2, rotate)
    assert sorted(response.status_code for response in responses) == [200, 409]
    # The loser waited for the lock and then saw the token rotated (without the lock it would
    # only trip over the new token's name).
    (refused,) = [response for response in responses if response.status_code == 409]
    assert "already rotated" in refused.json()["message"]
    assert ServiceAccountToken.objects.count() == 2
    keys = [response.json().get("key") for response in responses]
    assert sum(key is not None for key in keys) == 1
    assert connection.vendor == "postgresql"


def test_the_token_json_says_where_it_was_last_used(client, admin, account, make_token):
    token, _ = make_token("ci")
    ServiceAccountToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now(), last_used_ip="203.0.113.9", last_used_user_agent="curl/8.5.0"
    )
    (item,) = call(client, "GET", url(account)).json()
    assert (item["lastUsedIp"], item["lastUsedUserAgent"]) == ("203.0.113.9", "curl/8.5.0")
