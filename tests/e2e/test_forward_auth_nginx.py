"""A service behind a real nginx accepts Keyhouse tokens (DESIGN §12, issue 12).

nginx runs the README's snippet unchanged (``tests/nginx.py``): ``auth_request`` asks the live
Keyhouse test server's ``/api/auth/verify?permission=metrics:ingest``, and the upstream, an
echo app, shows what reached it.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from accounts.models import ServiceAccount, Team, TeamPermission
from accounts.roles import Role
from accounts.services import (
    service_account_create,
    service_account_delete,
    service_account_update,
)
from apikeys.services import migrate_keys
from tests.helpers import SYSTEM, grant
from tests.nginx import ROOT, SNIPPET, echo_api, run_nginx
from tokens.models import ServiceAccountToken
from tokens.services import token_create, token_delete, token_revoke

PERMISSION = "metrics:ingest"  # what the snippet asks of every token


@pytest.fixture(scope="module")
def proxy(live_server, tmp_path_factory) -> Iterator[int]:
    """nginx's port: the snippet in front of the echo app, Keyhouse's live server behind it."""
    keyhouse = urlsplit(live_server.url).port
    assert keyhouse is not None
    with echo_api() as api:
        folder = tmp_path_factory.mktemp("nginx")
        with run_nginx(folder, keyhouse=keyhouse, api=api) as port:
            yield port


@pytest.fixture(autouse=True)
def _keyhouse_host(settings) -> None:
    """As the README says: Keyhouse sees the upstream's name as its host."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "keyhouse"]


def request(
    port: int,
    secret: str | None = None,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = dict(headers or {})
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    try:
        connection.request(method, "/metrics/push?x=1", body=body, headers=sent)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def upstream_saw(port: int, secret: str, **kwargs) -> dict:
    status, _, body = request(port, secret, **kwargs)
    assert status == 200, body
    return json.loads(body)


def keyhouse_headers(seen: dict) -> dict[str, str]:
    return {
        name.removeprefix("X-Keyhouse-"): value
        for name, value in seen["headers"].items()
        if name.startswith("X-Keyhouse-")
    }


@pytest.fixture
def robot(org_admin) -> ServiceAccount:
    account = service_account_create(identity=org_admin, name="ingester")
    grant(account, PERMISSION, "metrics:read")
    return account


@pytest.fixture
def token(robot, org_admin) -> tuple[ServiceAccountToken, str]:
    return token_create(identity=org_admin, account=robot, name="t", expires_at=None)


def test_the_tests_run_the_readme_snippet():
    readme = (ROOT / "README.md").read_text()
    assert f"```nginx\n{SNIPPET.read_text()}```" in readme


def test_no_token_is_401(proxy):
    status, headers, _ = request(proxy)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="keyhouse"'
    assert request(proxy, "glsa_not_a_token")[0] == 401


def test_a_good_token_reaches_the_api_with_who_called(proxy, org, robot, token):
    record, secret = token
    seen = upstream_saw(proxy, secret)
    assert (seen["method"], seen["path"]) == ("GET", "/metrics/push")
    assert keyhouse_headers(seen) == {
        "Org-Id": str(org.pk),
        "Service-Account-Id": str(robot.pk),
        "Login": robot.login,
        "Role": "Viewer",
        "Permissions": "metrics:ingest metrics:read",
        "Token-Id": str(record.pk),
        "Credential": "token",
    }
    assert seen["headers"]["Authorization"] == f"Bearer {secret}"


def test_a_client_cannot_claim_an_identity(proxy, token, make_key, org):
    forged = {
        "X-Keyhouse-Role": "Admin",
        "X-Keyhouse-Org-Id": "999",
        "X-Keyhouse-Permissions": "everything:*",
        "X-Keyhouse-Login": "sa-1-admin",
        "X-Keyhouse-Service-Account-Id": "1",
    }
    seen = keyhouse_headers(upstream_saw(proxy, token[1], headers=forged))
    assert (seen["Role"], seen["Org-Id"], seen["Permissions"]) == (
        "Viewer",
        str(org.pk),
        "metrics:ingest metrics:read",
    )
    # A legacy key has no account: the forged account headers must not get through either.
    _, key_secret = make_key("legacy", role=Role.ADMIN)
    seen = keyhouse_headers(upstream_saw(proxy, key_secret, headers=forged))
    assert seen == {
        "Org-Id": str(org.pk),
        "Role": "Admin",
        "Token-Id": seen["Token-Id"],
        "Credential": "api-key",
    }


def test_a_missing_permission_is_403(proxy, org_admin):
    account = service_account_create(identity=org_admin, name="reader")
    grant(account, "metrics:read")
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    assert request(proxy, secret)[0] == 403


def test_disabling_the_account_stops_the_next_request(proxy, org_admin, robot, token):
    _, secret = token
    assert request(proxy, secret)[0] == 200
    service_account_update(identity=org_admin, account=robot, is_disabled=True)
    assert request(proxy, secret)[0] == 401
    service_account_update(identity=org_admin, account=robot, is_disabled=False)
    assert request(proxy, secret)[0] == 200
    service_account_delete(identity=org_admin, account=robot)
    assert request(proxy, secret)[0] == 401


def test_expired_revoked_and_deleted_tokens_are_401(proxy, org_admin, robot):
    def new(name: str) -> tuple[ServiceAccountToken, str]:
        made = token_create(identity=org_admin, account=robot, name=name, expires_at=None)
        assert request(proxy, made[1])[0] == 200
        return made

    expired, expired_secret = new("expired")
    ServiceAccountToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked, revoked_secret = new("revoked")
    token_revoke(identity=org_admin, token=revoked)
    deleted, deleted_secret = new("deleted")
    token_delete(identity=org_admin, token=deleted)
    for secret in (expired_secret, revoked_secret, deleted_secret):
        status, headers, _ = request(proxy, secret)
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Bearer realm="keyhouse"'


def test_a_migrated_legacy_key_works_and_a_deleted_one_does_not(proxy, org, make_key):
    everyone = Team.objects.get(org=org, is_everyone=True)
    TeamPermission.objects.create(team=everyone, permission=PERMISSION)
    key, secret = make_key("legacy")
    account = migrate_keys(org, actor=SYSTEM, key_ids=[key.pk]).last_account
    assert account is not None
    seen = keyhouse_headers(upstream_saw(proxy, secret))
    assert (seen["Service-Account-Id"], seen["Login"]) == (str(account.pk), account.login)
    ServiceAccountToken.objects.filter(service_account=account).delete()
    assert request(proxy, secret)[0] == 401


def test_a_post_body_reaches_the_api_intact(proxy, token):
    body = bytes(range(256)) * 300  # binary, and larger than nginx's in-memory buffer
    seen = upstream_saw(
        proxy,
        token[1],
        method="POST",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert seen["method"] == "POST"
    assert base64.b64decode(seen["body"]) == body
    assert keyhouse_headers(seen)["Credential"] == "token"
