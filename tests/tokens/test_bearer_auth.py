from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ServiceAccountPermission
from accounts.roles import Role
from tests.helpers import basic_api_key, bearer
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db


def test_bearer_and_basic_api_key_authenticate_as_the_account(client, org, make_token):
    _, secret = make_token()
    for headers in (bearer(secret), basic_api_key(secret)):
        response = client.get("/api/org", **headers)
        assert response.status_code == 200
        assert response.json()["id"] == org.pk


def test_one_query_authenticates(client, make_token):
    _, secret = make_token()
    client.get("/api/org", **bearer(secret))  # the first use writes last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/org", **bearer(secret)).status_code == 200
    assert len(queries) == 1


def test_a_permission_check_costs_one_more_query_and_only_when_needed(
    client, make_token, make_account
):
    viewer_account = make_account("reader")  # Viewer: needs its grants looked up
    ServiceAccountPermission.objects.create(
        service_account=viewer_account, permission="serviceaccounts:read"
    )
    _, reader = make_token("r", target=viewer_account)
    _, admin = make_token("a")  # the Admin account: every permission, no lookup
    for secret in (reader, admin):
        client.get("/api/org", **bearer(secret))  # the first use writes last_used_at
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/org", **bearer(secret)).status_code == 200
        assert len(queries) == 1
    with CaptureQueriesContext(connection) as by_reader:
        assert client.get("/api/serviceaccounts/search", **bearer(reader)).status_code == 200
    with CaptureQueriesContext(connection) as by_admin:
        assert client.get("/api/serviceaccounts/search", **bearer(admin)).status_code == 200
    assert len(by_reader) == len(by_admin) + 1


def rejections(make_token, make_account, account, org, other_org):
    """Each way a token must be refused, as (description, headers) after setting it up."""
    cases = []
    _, revoked = make_token("revoked")
    ServiceAccountToken.objects.filter(name="revoked").update(is_revoked=True)
    cases.append(("revoked", bearer(revoked)))
    _, expired = make_token("expired")
    ServiceAccountToken.objects.filter(name="expired").update(expires_at=timezone.now())
    cases.append(("expired", bearer(expired)))
    disabled_account = make_account("disabled")
    _, on_disabled = make_token("x", target=disabled_account)
    disabled_account.is_disabled = True
    disabled_account.save()
    cases.append(("disabled account", bearer(on_disabled)))
    deleted_token, deleted = make_token("deleted")
    deleted_token.delete()
    cases.append(("deleted token", bearer(deleted)))
    gone_account = make_account("gone")
    _, orphan = make_token("y", target=gone_account)
    gone_account.delete()
    cases.append(("deleted account", bearer(orphan)))
    _, good = make_token("good")
    cases.append(("other org header", {**bearer(good), "HTTP_X_GRAFANA_ORG_ID": str(other_org.pk)}))
    cases.append(("bad checksum", bearer(good[:-1] + ("0" if good[-1] != "0" else "1"))))
    cases.append(("malformed", bearer("glsa_nope")))
    cases.append(("unknown", bearer("glsa_iNValIdinValiDinvalidinvalidinva_5b582697")))
    cases.append(("api_key basic, bad", basic_api_key("garbage")))
    return cases


def test_every_rejection_is_401_with_one_body(
    client, make_token, make_account, account, org, other_org
):
    bodies = set()
    for description, headers in rejections(make_token, make_account, account, org, other_org):
        response = client.get("/api/org", **headers)
        assert response.status_code == 401, description
        bodies.add(response.content)
    assert bodies == {b'{"message": "Invalid API key"}'}


def test_malformed_tokens_are_rejected_before_any_query(client):
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/org", **bearer("glsa_iNValIdinValiDinvalidinvalidinva_00000000"))
    assert len(queries) == 0


def test_reason_is_logged_without_the_secret(client, make_token, caplog):
    token, secret = make_token()
    ServiceAccountToken.objects.filter(pk=token.pk).update(is_revoked=True)
    client.get("/api/org", **bearer(secret))
    assert f"token {token.pk} is revoked" in caplog.text
    assert secret not in caplog.text
    assert secret[5:37] not in caplog.text


def test_tokens_in_the_query_string_are_ignored(client, make_token):
    _, secret = make_token()
    assert client.get(f"/api/org?api_key={secret}&token={secret}").status_code == 401


def test_org_header_for_its_own_org_is_fine(client, org, make_token):
    _, secret = make_token()
    response = client.get("/api/org", HTTP_X_GRAFANA_ORG_ID=str(org.pk), **bearer(secret))
    assert response.status_code == 200


def test_enabling_the_account_restores_its_tokens(client, account, make_token):
    _, secret = make_token()
    account.is_disabled = True
    account.save()
    assert client.get("/api/org", **bearer(secret)).status_code == 401
    account.is_disabled = False
    account.save()
    assert client.get("/api/org", **bearer(secret)).status_code == 200


def test_viewer_token_cannot_manage_service_accounts(client, make_account, make_token):
    viewer_account = make_account("viewer", role=Role.VIEWER)
    _, secret = make_token(target=viewer_account)
    response = client.post(
        "/api/serviceaccounts", {"name": "x"}, content_type="application/json", **bearer(secret)
    )
    assert response.status_code == 403


def test_admin_token_manages_its_own_org_only(client, org, other_org, make_token, outsider):
    from accounts.access import Identity
    from accounts.services import service_account_create

    _, secret = make_token()
    response = client.post(
        "/api/serviceaccounts",
        {"name": "made by a token", "role": "Admin"},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 201
    assert response.json()["orgId"] == org.pk
    theirs = service_account_create(
        identity=Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider), name="z"
    )
    assert client.get(f"/api/serviceaccounts/{theirs.pk}", **bearer(secret)).status_code == 404


def test_a_token_is_not_a_server_admin(client, make_token):
    _, secret = make_token()
    assert client.get("/api/orgs", **bearer(secret)).status_code == 403
    assert client.get("/api/user", **bearer(secret)).status_code == 403


class TestLastUsed:
    def test_set_on_success_once_per_interval(self, client, make_token, settings):
        settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS = 60
        token, secret = make_token()
        client.get("/api/org", **bearer(secret))
        token.refresh_from_db()
        first = token.last_used_at
        assert first is not None
        client.get("/api/org", **bearer(secret))
        token.refresh_from_db()
        assert token.last_used_at == first

    def test_written_again_after_the_interval(self, client, make_token, settings):
        token, secret = make_token()
        stale = timezone.now() - timedelta(minutes=5)
        ServiceAccountToken.objects.filter(pk=token.pk).update(last_used_at=stale)
        client.get("/api/org", **bearer(secret))
        token.refresh_from_db()
        assert token.last_used_at > stale

    @pytest.mark.parametrize("failure", ["disabled", "revoked", "expired", "other org"])
    def test_not_touched_by_failures(self, client, account, make_token, failure):
        token, secret = make_token()
        headers = bearer(secret)
        if failure == "disabled":
            account.is_disabled = True
            account.save()
        elif failure == "revoked":
            ServiceAccountToken.objects.filter(pk=token.pk).update(is_revoked=True)
        elif failure == "expired":
            ServiceAccountToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
        else:
            headers["HTTP_X_GRAFANA_ORG_ID"] = "999"
        assert client.get("/api/org", **headers).status_code == 401
        token.refresh_from_db()
        assert token.last_used_at is None

    def test_a_failed_write_does_not_fail_the_request(self, client, make_token, monkeypatch):
        from django.db import DatabaseError
        from django.db.models import QuerySet

        _, secret = make_token()

        def broken_update(self, **kwargs):
            raise DatabaseError("disk full")

        monkeypatch.setattr(QuerySet, "update", broken_update)
        assert client.get("/api/org", **bearer(secret)).status_code == 200
