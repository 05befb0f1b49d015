"""``POST /api/auth/leaked``: a secret scanner kills leaked tokens and legacy keys of any org in
one call, learns only counts, and every affected org's Admins are told."""

import json

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.audit.services import add_to_tally
from accounts.models import AuditEvent, ServerGrant
from accounts.roles import Role
from accounts.services import service_account_create
from accounts.teams.services import server_grant_give
from apikeys.models import ApiKey
from tests.helpers import (
    SYSTEM,
    bearer,
    call,
    identity_of,
    needs_postgresql,
    signed_in,
    while_held,
)
from tokens import format as token_format
from tokens.models import ServiceAccountToken
from tokens.services import token_create

pytestmark = pytest.mark.django_db

URL = "/api/auth/leaked"


def works(secret: str) -> bool:
    return Client().get("/api/org", **bearer(secret)).status_code == 200


def unknown_tokens(count: int) -> list[str]:
    """Well-formed tokens (the checksum is right) that nobody was ever given."""
    return [token_format.generate("glsa") for _ in range(count)]


@pytest.fixture
def leaked(org_admin, make_account, make_key, outsider, other_org):
    """A token and a legacy key of Acme, and a token of Globex."""
    robot = make_account("robot", role=Role.EDITOR)
    _, token = token_create(identity=org_admin, account=robot, name="ci", expires_at=None)
    _, key = make_key("old key", Role.VIEWER)
    globex = service_account_create(identity=identity_of(outsider, other_org), name="deployer")
    _, foreign = token_create(
        identity=identity_of(outsider, other_org), account=globex, name="prod", expires_at=None
    )
    return {"token": token, "key": key, "foreign": foreign}


def report(client: Client, strings: list, as_user: str = "root", **extra):
    return call(client, "POST", URL, {"tokens": strings, **extra}, as_user=as_user)


def test_reported_credentials_fail_at_once_and_the_counts_are_right(
    client, server_admin, leaked, django_capture_on_commit_callbacks
):
    assert all(works(secret) for secret in leaked.values())
    strings = [leaked["token"], leaked["key"], leaked["foreign"], "hello", *unknown_tokens(2)]
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, strings, source="github", url="https://example.com/x")
    assert response.status_code == 200
    assert response.json() == {"reported": 6, "revoked": 3, "alreadyInactive": 0, "unknown": 3}
    assert not any(works(secret) for secret in leaked.values())
    assert (
        ServiceAccountToken.objects.filter(is_revoked=True, revoked_at__isnull=False).count() == 2
    )
    assert ApiKey.objects.get().is_revoked


def test_the_answer_reveals_no_org_or_account(client, server_admin, leaked):
    body = report(client, [leaked["foreign"]]).content.decode()
    assert json.loads(body) == {"reported": 1, "revoked": 1, "alreadyInactive": 0, "unknown": 0}
    for word in ("Globex", "deployer", "prod", "orgId"):
        assert word not in body


def test_each_org_gets_its_audit_event_and_its_email(
    client, org, other_org, server_admin, leaked, outsider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report(client, [leaked["token"], leaked["key"], leaked["foreign"]], source="trufflehog")
    acme = AuditEvent.objects.filter(org_id=org.pk, action__endswith=".leak-report")
    assert sorted((e.action, e.target_name) for e in acme) == [
        ("apikey.leak-report", "old key"),
        ("token.leak-report", "ci"),
    ]
    assert all(e.details["source"] == "trufflehog" for e in acme)
    assert all((e.actor_type, e.actor_name) == ("user", "root") for e in acme)
    globex = AuditEvent.objects.get(org_id=other_org.pk, action="token.leak-report")
    assert globex.details["serviceAccount"]["name"] == "deployer"
    by_recipient = {tuple(message.to): message for message in mail.outbox}
    assert set(by_recipient) == {("alice@example.com",), ("oscar@example.com",)}
    acme_mail = by_recipient[("alice@example.com",)]
    assert "2 leaked credentials of Acme revoked" in acme_mail.subject
    assert "token ci of service account robot" in acme_mail.body
    assert "trufflehog" in acme_mail.body
    assert "deployer" not in acme_mail.body
    for secret in leaked.values():
        assert all(secret not in message.body for message in mail.outbox)


def test_reporting_again_changes_nothing(client, server_admin, leaked):
    strings = [leaked["token"], leaked["key"]]
    report(client, strings)
    reports = AuditEvent.objects.filter(action__endswith="leak-report")
    assert reports.count() == 2
    again = report(client, strings)
    assert again.json() == {"reported": 2, "revoked": 0, "alreadyInactive": 2, "unknown": 0}
    assert reports.count() == 2


def test_a_migrated_key_is_revoked_as_its_token(client, org, server_admin, make_key):
    from apikeys.services import migrate_keys
    from tests.helpers import SYSTEM

    _, key = make_key("moved")
    migrate_keys(org, actor=SYSTEM)
    assert report(client, [key]).json()["revoked"] == 1
    assert ServiceAccountToken.objects.get().is_revoked
    assert not works(key)


@pytest.mark.parametrize("who", ["alice", "vera"])
def test_org_users_even_admins_get_403(client, admin, viewer, leaked, who):
    response = report(client, [leaked["token"]], as_user=who)
    assert response.status_code == 403
    assert "tokens:report-leak" in response.json()["message"]
    assert works(leaked["token"])


def test_the_account_given_the_grant_may_report_any_org(
    client, org, leaked, other_org, outsider, server_admin
):
    scanner = service_account_create(identity=identity_of(outsider, other_org), name="scanner")
    _, secret = token_create(
        identity=identity_of(outsider, other_org), account=scanner, name="t", expires_at=None
    )
    body = json.dumps({"tokens": [leaked["token"]]})
    send = lambda: client.post(URL, body, "application/json", **bearer(secret))  # noqa: E731
    assert send().status_code == 403
    give = {"serviceAccountId": scanner.pk}
    given = call(client, "PUT", "/api/admin/grants/tokens:report-leak", give, as_user="root")
    assert given.status_code == 200
    response = send()
    assert response.json()["revoked"] == 1
    event = AuditEvent.objects.get(action="token.leak-report")
    assert (event.org_id, event.actor_type, event.actor_name) == (
        org.pk,
        "service-account",
        "scanner",
    )
    removed = call(client, "DELETE", "/api/admin/grants/tokens:report-leak", as_user="root")
    assert removed.status_code == 200
    assert send().status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tokens": "glsa_x"},
        {"tokens": [1]},
        {"tokens": [None]},
        {"tokens": ["a"] * 1001},
        {"tokens": [], "source": 5},
        {"tokens": [], "url": "x" * 2001},
    ],
)
def test_malformed_reports_are_400(client, server_admin, body):
    response = call(client, "POST", URL, body, as_user="root")
    assert response.status_code == 400
    assert "message" in response.json()


def test_only_post(client, server_admin):
    assert call(client, "GET", URL, as_user="root").status_code == 405


def test_unknown_strings_cost_the_same_queries_however_many(client, server_admin):
    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = report(client, [*unknown_tokens(count), "not a token"])
        assert response.json()["unknown"] == count + 1
        return len(captured)

    queries(1)  # once first: the first audit event of a scope also creates its tally row
    assert queries(999) == queries(1)  # with the string that is no token: 1000


def test_django_admin_shows_the_grant_but_cannot_change_it(
    server_admin, make_account, django_admin_site
):
    scanner = make_account("scanner")
    server_grant_give(actor=SYSTEM, permission="tokens:report-leak", account=scanner)
    client = signed_in(server_admin)
    assert client.get("/django-admin/accounts/servergrant/").status_code == 200
    add = "/django-admin/accounts/servergrant/add/"
    response = client.post(add, {"permission": "tokens:report-leak", "service_account": 1})
    assert response.status_code == 403
    grant = ServerGrant.objects.get()
    delete = f"/django-admin/accounts/servergrant/{grant.pk}/delete/"
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ServerGrant.objects.get().service_account == scanner


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_reports_take_the_orgs_audit_tallies_in_one_order(
    server_admin, org_admin, make_account, outsider, org, other_org
):
    """Another transaction holds the first org's audit tally and then wants the second's, as
    a report listing credentials the other way round would: a report must wait for the first
    before it takes the second, or the two wait for each other."""
    globex = identity_of(outsider, other_org)
    deployer = service_account_create(identity=globex, name="deployer")
    _, older = token_create(identity=globex, account=deployer, name="prod", expires_at=None)
    _, newer = token_create(
        identity=org_admin, account=make_account("robot"), name="ci", expires_at=None
    )
    first, second = sorted([org.pk, other_org.pk])
    response = while_held(
        lambda: add_to_tally(first, 1),
        lambda: report(Client(), [older, newer]),
        then=lambda: add_to_tally(second, 1),
    )
    assert response.status_code == 200
    assert response.json()["revoked"] == 2
