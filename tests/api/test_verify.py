"""``/api/auth/verify``: forward auth for reverse proxies (DESIGN §12, issue 12)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Permission, ServiceAccount, Team, TeamMember, TeamPermission
from accounts.roles import Role
from accounts.services import service_account_create, service_account_update
from accounts.teams.catalogue import BUILTIN_PERMISSIONS
from apikeys.models import ApiKey
from apikeys.services import api_key_delete, migrate_keys
from tests.helpers import SYSTEM, basic_api_key, basic_auth, bearer, grant
from tokens.models import ServiceAccountToken
from tokens.services import token_create, token_delete, token_revoke

pytestmark = pytest.mark.django_db

VERIFY = "/api/auth/verify"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
REFUSED = {"message": "Unauthorized"}


@pytest.fixture
def robot(make_account) -> ServiceAccount:
    """A Viewer account holding metrics:ingest individually."""
    account = make_account("robot")
    grant(account, "metrics:ingest")
    return account


@pytest.fixture
def token(robot, org_admin) -> tuple[ServiceAccountToken, str]:
    return token_create(identity=org_admin, account=robot, name="t", expires_at=None)


def keyhouse_headers(response) -> dict[str, str]:
    return {
        name.removeprefix("X-Keyhouse-"): value
        for name, value in response.headers.items()
        if name.startswith("X-Keyhouse-")
    }


def refused(response) -> bool:
    return (
        response.status_code == 401
        and response.json() == REFUSED
        and response["WWW-Authenticate"] == 'Bearer realm="keyhouse"'
        and not keyhouse_headers(response)
    )


def test_a_good_token_gets_its_identity_in_headers_and_body(client, org, robot, token):
    record, secret = token
    response = client.get(VERIFY, **bearer(secret))
    assert response.status_code == 200
    identity = {
        "Org-Id": str(org.pk),
        "Service-Account-Id": str(robot.pk),
        "Login": robot.login,
        "Role": "Viewer",
        "Permissions": "metrics:ingest",
        "Token-Id": str(record.pk),
        "Credential": "token",
    }
    assert keyhouse_headers(response) == identity
    assert response.json() == {
        "orgId": org.pk,
        "serviceAccountId": robot.pk,
        "login": robot.login,
        "role": "Viewer",
        "permissions": ["metrics:ingest"],
        "tokenId": record.pk,
        "credential": "token",
    }
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", METHODS)
def test_any_method_is_verified_and_its_body_ignored(client, token, method):
    _, secret = token
    response = client.generic(
        method, VERIFY, b'{"token": "not this"}', "application/json", **bearer(secret)
    )
    assert response.status_code == 200
    assert keyhouse_headers(response)["Credential"] == "token"
    anonymous = client.generic(method, VERIFY)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="keyhouse"'


def test_basic_api_key_form_is_accepted(client, token):
    _, secret = token
    assert client.get(VERIFY, **basic_api_key(secret)).status_code == 200


def test_user_passwords_are_refused(client, admin):
    assert refused(client.get(VERIFY, **basic_auth("alice")))
    assert refused(client.get(VERIFY, **basic_auth("alice", "wrong")))


def test_every_bad_credential_gets_the_same_401(client, org_admin, robot, token, make_account):
    record, secret = token
    expired, expired_secret = token_create(
        identity=org_admin, account=robot, name="old", expires_at=None
    )
    ServiceAccountToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    other = make_account("other")
    _, disabled_secret = token_create(identity=org_admin, account=other, name="t", expires_at=None)
    service_account_update(identity=org_admin, account=other, is_disabled=True)
    revoked, revoked_secret = token_create(
        identity=org_admin, account=robot, name="gone", expires_at=None
    )
    token_revoke(identity=org_admin, token=revoked)
    cases = {
        "none": {},
        "empty bearer": {"HTTP_AUTHORIZATION": "Bearer "},
        "unknown scheme": {"HTTP_AUTHORIZATION": f"Token {secret}"},
        "bad base64": {"HTTP_AUTHORIZATION": "Basic %%%"},
        "unknown token": bearer(secret[:-12] + "0" * 12),
        "not a token": bearer("hello"),
        "expired": bearer(expired_secret),
        "revoked": bearer(revoked_secret),
        "disabled account": bearer(disabled_secret),
    }
    for case, headers in cases.items():
        assert refused(client.get(VERIFY, **headers)), case
    token_delete(identity=org_admin, token=record)
    assert refused(client.get(VERIFY, **bearer(secret))), "deleted"


def test_requirements_all_have_to_be_met(client, token, robot):
    _, secret = token
    grant(robot, "metrics:read")

    def verify(query: str):
        return client.get(f"{VERIFY}?{query}", **bearer(secret))

    assert verify("permission=metrics:ingest").status_code == 200
    assert verify("permission=metrics:ingest&permission=metrics:read&role=Viewer").status_code == (
        200
    )
    missing = verify("permission=metrics:ingest&permission=alerts:write")
    assert missing.status_code == 403
    assert missing.json() == {"message": "missing permission alerts:write"}
    assert not keyhouse_headers(missing)
    too_low = verify("role=Editor&permission=metrics:ingest")
    assert (too_low.status_code, too_low.json()) == (403, {"message": "missing role Editor"})


def test_teams_and_everyone_count_and_permissions_are_sorted(client, org, token, robot):
    everyone = Team.objects.get(org=org, is_everyone=True)
    TeamPermission.objects.create(team=everyone, permission="zones:read")
    ops = Team.objects.create(org=org, name="Ops")
    TeamMember.objects.create(team=ops, service_account=robot)
    TeamPermission.objects.create(team=ops, permission="alerts:read")
    response = client.get(f"{VERIFY}?permission=zones:read", **bearer(token[1]))
    assert keyhouse_headers(response)["Permissions"] == "alerts:read metrics:ingest zones:read"


@pytest.mark.parametrize(
    "query",
    [
        "role=Boss",
        "role=admin",
        "role=None",
        "role=",
        "role=Viewer&role=Admin",
        "permission=Metrics",
        "permission=metrics",
        "permission=",
        "permission=metrics:ingest&permission=bad%20name",
        "permission=" + "a:" + "b" * 200,
        "permission=a:b%00",
        "org=acme",
        "org=0",
        "org=1&org=2",
    ],
)
def test_malformed_requirements_are_400_even_without_a_credential(client, token, query):
    for headers in ({}, bearer(token[1])):
        response = client.get(f"{VERIFY}?{query}", **headers)
        assert response.status_code == 400, query
        assert set(response.json()) == {"message"}


def test_org_restricts_the_credential_to_that_org(client, org, other_org, token):
    _, secret = token
    assert client.get(f"{VERIFY}?org={org.pk}", **bearer(secret)).status_code == 200
    assert refused(client.get(f"{VERIFY}?org={other_org.pk}", **bearer(secret)))


def test_a_path_appended_to_the_query_can_only_add_requirements(client, token):
    """Envoy's ext_authz appends the request's path to its prefix; the README's prefix ends
    in a throwaway ``_=`` parameter, so a client's path can add requirements, never drop one."""
    _, secret = token
    prefix = f"{VERIFY}?permission=metrics:ingest&_="

    def status(path: str) -> int:
        return client.get(prefix + path, **bearer(secret)).status_code

    assert status("/metrics/push?x=1") == 200
    assert status("/metrics/push?x=1&permission=alerts:write") == 403
    assert status("/metrics/push?x=1&role=Admin") == 403
    assert status("/metrics/push?x=1&role=Boss") == 400


def test_the_grafana_org_header_is_ignored(client, other_org, token):
    for value in (str(other_org.pk), "nonsense"):
        response = client.get(VERIFY, HTTP_X_GRAFANA_ORG_ID=value, **bearer(token[1]))
        assert response.status_code == 200


def test_an_admin_account_reports_the_whole_catalogue_and_passes_any_permission(
    client, org, org_admin
):
    Permission.objects.create(org=org, name="metrics:ingest")
    boss = service_account_create(identity=org_admin, name="boss", role=Role.ADMIN)
    _, secret = token_create(identity=org_admin, account=boss, name="t", expires_at=None)
    response = client.get(f"{VERIFY}?permission=metrics:ingest&role=Admin", **bearer(secret))
    assert response.status_code == 200
    reported = keyhouse_headers(response)["Permissions"].split(" ")
    assert reported == sorted({*BUILTIN_PERMISSIONS, "metrics:ingest"})


def test_an_unmigrated_legacy_key_reports_its_org_and_role_only(client, org, org_admin, make_key):
    key, secret = make_key("legacy", role=Role.EDITOR)
    response = client.get(f"{VERIFY}?role=Editor", **bearer(secret))
    assert response.status_code == 200
    assert keyhouse_headers(response) == {
        "Org-Id": str(org.pk),
        "Role": "Editor",
        "Token-Id": str(key.pk),
        "Credential": "api-key",
    }
    assert response.json() == {
        "orgId": org.pk,
        "serviceAccountId": None,
        "login": None,
        "role": "Editor",
        "permissions": [],
        "tokenId": key.pk,
        "credential": "api-key",
    }
    assert client.get(f"{VERIFY}?permission=metrics:ingest", **bearer(secret)).status_code == 403
    api_key_delete(identity=org_admin, key=key)
    assert refused(client.get(VERIFY, **bearer(secret)))


def test_a_migrated_legacy_key_acts_as_its_account(client, org, make_key):
    key, secret = make_key("legacy")
    account = migrate_keys(org, actor=SYSTEM, key_ids=[key.pk]).last_account
    assert account is not None
    response = client.get(VERIFY, **bearer(secret))
    assert response.status_code == 200
    headers = keyhouse_headers(response)
    assert (headers["Service-Account-Id"], headers["Login"], headers["Credential"]) == (
        str(account.pk),
        account.login,
        "token",
    )
    ServiceAccountToken.objects.filter(service_account=account).delete()
    assert refused(client.get(VERIFY, **bearer(secret)))
    assert ApiKey.objects.filter(pk=key.pk).exists()


def test_a_login_outside_ascii_is_percent_encoded(client, org_admin):
    account = service_account_create(identity=org_admin, name="Café Bot")
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    response = client.get(VERIFY, **bearer(secret))
    assert keyhouse_headers(response)["Login"] == account.login.replace("é", "%C3%A9")
    assert response.json()["login"] == account.login


def test_one_lookup_then_one_permission_query_at_most(client, token, make_key):
    _, secret = token
    _, key_secret = make_key("legacy")
    for credential in (secret, key_secret):
        client.get(VERIFY, **bearer(credential))  # the first use writes last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"{VERIFY}?permission=metrics:ingest", **bearer(secret)).status_code == (
            200
        )
    assert len(queries) == 2  # the token, then its permissions
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"{VERIFY}?role=Viewer", **bearer(key_secret)).status_code == 200
    assert len(queries) == 1  # tokens and keys in one statement; a key has no permissions


def test_use_is_recorded_like_any_api_call(client, token, settings):
    record, secret = token
    client.post(VERIFY, HTTP_USER_AGENT="nginx-proxy", **bearer(secret))
    record.refresh_from_db()
    first = record.last_used_at
    assert first is not None
    assert record.last_used_user_agent == "nginx-proxy"
    client.get(VERIFY, **bearer(secret))
    record.refresh_from_db()
    assert record.last_used_at == first  # within the interval: no second write
    settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS = 0
    ServiceAccountToken.objects.filter(pk=record.pk).update(
        last_used_at=first - timedelta(seconds=5)
    )
    client.get(VERIFY, **bearer(secret))
    record.refresh_from_db()
    assert record.last_used_at > first - timedelta(seconds=5)


def test_answers_may_be_cached_only_when_configured(client, token, settings):
    _, secret = token
    settings.KEYHOUSE_VERIFY_CACHE_SECONDS = 30
    response = client.get(VERIFY, **bearer(secret))
    assert response["Cache-Control"] == "private, max-age=30"
    assert response["Vary"] == "Authorization"
    assert client.get(VERIFY)["Cache-Control"] == "no-store"
    denied = client.get(f"{VERIFY}?role=Admin", **bearer(secret))
    assert denied["Cache-Control"] == "no-store"


def test_the_secret_never_reaches_the_log(client, token, caplog):
    _, secret = token
    caplog.set_level("DEBUG")
    client.get(VERIFY, **bearer(secret[:-1] + "x"))
    client.get(VERIFY, **basic_auth("alice", secret))
    assert "forward auth refused" in caplog.text
    assert secret[:-1] not in caplog.text
