"""The audit log under concurrent requests (PostgreSQL, real connections): parallel leak reports
revoke a token once and write one event, an expiry is recorded once however many requests see
it first, and the tallies still count exactly what is there."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, AuditTally
from accounts.roles import Role
from tests.helpers import basic_auth, bearer, in_parallel, needs_postgresql
from tokens.models import ServiceAccountToken
from tokens.services import token_create

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]


def test_parallel_leak_reports_revoke_once(server_admin, org_admin, make_account):
    account = make_account("robot")
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)

    def report():
        body = json.dumps({"tokens": [secret]})
        response = Client().post("/api/auth/leaked", body, "application/json", **basic_auth("root"))
        return response.json()

    answers = in_parallel(3, report)
    assert sorted(answer["revoked"] for answer in answers) == [0, 0, 1]
    assert sorted(answer["alreadyInactive"] for answer in answers) == [0, 1, 1]
    assert AuditEvent.objects.filter(action="token.leak-report").count() == 1


def test_an_expiry_seen_by_parallel_requests_is_recorded_once(org_admin, make_account):
    account = make_account("robot", role=Role.ADMIN)
    soon = timezone.now() + timedelta(hours=1)
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=soon)
    ServiceAccountToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    statuses = in_parallel(4, lambda: Client().get("/api/org", **bearer(secret)).status_code)
    assert statuses == [401] * 4
    assert AuditEvent.objects.filter(action="token.expire").count() == 1


def test_parallel_changes_keep_the_tally_exact(org, admin):
    names = iter(range(100))

    def create():
        body = json.dumps({"name": f"bot {next(names)}"})
        return (
            Client()
            .post("/api/serviceaccounts", body, "application/json", **basic_auth("alice"))
            .status_code
        )

    assert in_parallel(4, create) == [201] * 4
    tally = AuditTally.objects.get(scope=org.pk).events
    assert tally == AuditEvent.objects.filter(org_id=org.pk).count() == 4
