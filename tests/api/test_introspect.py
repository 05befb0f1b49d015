"""``POST /api/auth/introspect``: RFC 7662 token introspection (DESIGN §12, issue 12)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_update
from accounts.teams.catalogue import TOKENS_INTROSPECT
from tests.helpers import basic_auth, bearer, grant, make_user
from tokens.models import ServiceAccountToken
from tokens.services import token_create, token_revoke

pytestmark = pytest.mark.django_db

INTROSPECT = "/api/auth/introspect"
INACTIVE = {"active": False}
REQUIRED = "Bad request data: token is required and must be a string"


@pytest.fixture
def robot(make_account) -> ServiceAccount:
    account = make_account("robot")
    grant(account, "metrics:ingest", "alerts:read")
    return account


@pytest.fixture
def subject(robot, org_admin) -> tuple[ServiceAccountToken, str]:
    expires = timezone.now() + timedelta(days=3)
    return token_create(identity=org_admin, account=robot, name="t", expires_at=expires)


def ask(client, token: str, *, as_user: str = "alice", **headers):
    """Introspect ``token`` the RFC way: a form body."""
    credentials = headers or basic_auth(as_user)
    return client.post(
        INTROSPECT, {"token": token, "token_type_hint": "access_token"}, **credentials
    )


def test_an_active_token_is_described(client, org, robot, subject, admin):
    record, secret = subject
    response = ask(client, secret)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "active": True,
        "scope": "alerts:read metrics:ingest",
        "client_id": robot.login,
        "username": "robot",
        "sub": robot.login,
        "token_type": "Bearer",
        "iat": int(record.created_at.timestamp()),
        "exp": int(record.expires_at.timestamp()),
        "org_id": org.pk,
        "role": "Viewer",
    }


def test_json_bodies_are_accepted_and_exp_is_left_out_when_never(client, robot, org_admin, admin):
    _, secret = token_create(identity=org_admin, account=robot, name="n", expires_at=None)
    response = client.post(
        INTROSPECT, json.dumps({"token": secret}), "application/json", **basic_auth("alice")
    )
    body = response.json()
    assert (body["active"], "exp" in body) == (True, False)


def test_everything_else_is_simply_inactive(client, subject, robot, org_admin, other_org, admin):
    record, secret = subject
    make_user("oscar", other_org, Role.ADMIN)
    cases = {"garbage": "hello", "unknown": secret[:-12] + "0" * 12, "a password": "S3cret!"}
    for case, token in cases.items():
        assert ask(client, token).json() == INACTIVE, case
    assert ask(client, secret, as_user="oscar").json() == INACTIVE, "another org's token"
    service_account_update(identity=org_admin, account=robot, is_disabled=True)
    assert ask(client, secret).json() == INACTIVE, "disabled"
    service_account_update(identity=org_admin, account=robot, is_disabled=False)
    ServiceAccountToken.objects.filter(pk=record.pk).update(expires_at=timezone.now())
    assert ask(client, secret).json() == INACTIVE, "expired"
    ServiceAccountToken.objects.filter(pk=record.pk).update(expires_at=None)
    assert ask(client, secret).json()["active"] is True
    token_revoke(identity=org_admin, token=record)
    assert ask(client, secret).json() == INACTIVE, "revoked"


def test_an_unmigrated_legacy_key_has_no_account_to_name(client, make_key, org, admin):
    key, secret = make_key("legacy", role=Role.EDITOR)
    body = ask(client, secret).json()
    assert body == {
        "active": True,
        "scope": "",
        "username": "legacy",
        "token_type": "Bearer",
        "iat": int(key.created_at.timestamp()),
        "exp": int(key.expires_at.timestamp()),
        "org_id": org.pk,
        "role": "Editor",
    }


def test_the_caller_needs_tokens_introspect(client, subject, viewer, make_account, org_admin):
    _, secret = subject
    anonymous = client.post(INTROSPECT, {"token": secret})
    assert (anonymous.status_code, set(anonymous.json())) == (401, {"message"})
    assert ask(client, secret, as_user="vera").status_code == 403
    grant(viewer, TOKENS_INTROSPECT)
    assert ask(client, secret, as_user="vera").json()["active"] is True
    gateway = make_account("gateway")
    _, gateway_secret = token_create(identity=org_admin, account=gateway, name="g", expires_at=None)
    assert ask(client, secret, **bearer(gateway_secret)).status_code == 403
    grant(gateway, TOKENS_INTROSPECT)
    assert ask(client, secret, **bearer(gateway_secret)).json()["active"] is True


def test_a_missing_token_is_a_bad_request_and_an_odd_one_inactive(client, admin):
    alice = basic_auth("alice")
    for body in ({}, {"token": ""}):
        response = client.post(INTROSPECT, body, **alice)
        assert response.status_code == 400
        assert response.json() == {
            "message": "Bad request data: token is required and must be a string"
        }
    for raw in ("[1]", '{"token": 5}', '{"token": null}', "{"):
        assert client.post(INTROSPECT, raw, "application/json", **alice).status_code == 400
    for odd in (" ", "glsa_\u0000", "\ud800", "eyJrIjoi\u00e9"):
        body = json.dumps({"token": odd})
        response = client.post(INTROSPECT, body, "application/json", **alice)
        assert response.json() == INACTIVE, (odd, response.content)


def test_only_post(client, subject, admin):
    response = client.get(INTROSPECT, {"token": subject[1]}, **basic_auth("alice"))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
