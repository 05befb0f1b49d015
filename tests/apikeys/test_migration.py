from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_create
from apikeys import services
from apikeys.models import ApiKey
from apikeys.services import api_key_create, migrate_keys, plan_migration
from tests.helpers import SYSTEM, basic_auth, bearer, in_parallel, needs_postgresql
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db


def test_one_key_becomes_an_account_whose_token_is_the_same_key(client, org, make_key):
    key, secret = make_key("deploy bot", Role.EDITOR)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(days=1))
    key.refresh_from_db()
    result = migrate_keys(org, actor=SYSTEM)
    assert (result.total, result.migrated, result.failed) == (1, 1, 0)
    account = ServiceAccount.objects.get()
    assert (account.name, account.login, account.role) == (
        "sa-autogen-deploy bot",
        f"sa-autogen-{org.pk}-deploy-bot",
        "Editor",
    )
    token = ServiceAccountToken.objects.get()
    assert (token.service_account, token.name, token.digest) == (account, "deploy bot", key.digest)
    assert (token.expires_at, token.last_used_at, token.created_at) == (
        key.expires_at,
        key.last_used_at,
        key.created_at,
    )
    key.refresh_from_db()
    assert key.service_account == account
    assert key.migrated_at is not None
    org.refresh_from_db()
    assert org.api_keys_migrated_at is not None
    # The same string still works, now as the service account with the same role.
    response = client.get("/api/serviceaccounts/search", **bearer(secret))
    assert response.status_code == 403  # an Editor, as before
    assert client.get("/api/org", **bearer(secret)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > key.last_used_at


def test_migrated_key_acts_as_the_account(client, org, make_key):
    _, secret = make_key("ops", Role.ADMIN)
    migrate_keys(org, actor=SYSTEM)
    ServiceAccount.objects.update(is_disabled=True)
    assert client.get("/api/org", **bearer(secret)).status_code == 401


def test_all_keys_including_expired_ones(org, make_key):
    make_key("a")
    expired, _ = make_key("b")
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=3))
    result = migrate_keys(org, actor=SYSTEM)
    assert (result.total, result.migrated) == (2, 2)
    assert ServiceAccountToken.objects.get(name="b").is_expired()


def test_name_collisions_get_a_numbered_suffix(org, org_admin, make_key):
    service_account_create(identity=org_admin, name="sa-autogen-deploy")
    make_key("deploy")
    migrate_keys(org, actor=SYSTEM)
    account = ServiceAccount.objects.get(name__startswith="sa-autogen-deploy-")
    assert account.name == "sa-autogen-deploy-001"
    assert account.login == f"sa-autogen-{org.pk}-deploy-001"


def test_other_orgs_are_untouched(org, other_org, outsider, make_key):
    make_key("mine")
    theirs_identity = Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider)
    theirs, _ = make_key("theirs", identity=theirs_identity)
    migrate_keys(org, actor=SYSTEM)
    theirs.refresh_from_db()
    assert theirs.migrated_at is None
    other_org.refresh_from_db()
    assert other_org.api_keys_migrated_at is None
    assert not ServiceAccount.objects.filter(org=other_org).exists()


def test_a_second_run_migrates_nothing(org, make_key):
    make_key("a")
    migrate_keys(org, actor=SYSTEM)
    again = migrate_keys(org, actor=SYSTEM)
    assert (again.total, again.migrated, again.failed) == (0, 0, 0)
    assert ServiceAccount.objects.count() == 1


def test_plan_previews_without_writing(org, make_key):
    make_key("a", Role.ADMIN)
    plan = list(plan_migration(org))
    assert [(p.key.name, p.name, p.key.role) for p in plan] == [("a", "sa-autogen-a", "Admin")]
    assert not ServiceAccount.objects.exists()


def test_a_failing_key_is_left_as_it_was_and_reported(
    org, make_key, fail_token_inserts, monkeypatch
):
    make_key("good one")
    bad, _ = make_key("bad one")
    make_key("good two")
    fail_token_inserts("bad one")
    result = migrate_keys(org, actor=SYSTEM)
    assert (result.total, result.migrated, result.failed) == (3, 2, 1)
    assert result.failed_ids == [bad.pk]
    assert result.failed_details == [
        "API key 'bad one': unexpected error; the server log has the details"
    ]
    bad.refresh_from_db()
    assert (bad.migrated_at, bad.service_account) == (None, None)
    # The account created before the failure was rolled back with it.
    assert not ServiceAccount.objects.filter(name="sa-autogen-bad one").exists()
    org.refresh_from_db()
    assert org.api_keys_migrated_at is None  # not everything moved: keys stay allowed
    monkeypatch.undo()
    retry = migrate_keys(org, actor=SYSTEM)
    assert (retry.total, retry.migrated) == (1, 1)


def test_progress_is_reported(org, make_key):
    for number in range(3):
        make_key(f"k{number}")
    seen = []
    migrate_keys(org, actor=SYSTEM, progress=seen.append)
    assert seen == [3]


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_eight_parallel_migrate_all_requests_migrate_each_key_once(org_admin, org):
    for number in range(20):
        api_key_create(identity=org_admin, name=f"k{number}", role=Role.VIEWER, seconds_to_live=60)

    def migrate() -> dict:
        response = Client().post("/api/serviceaccounts/migrate", **basic_auth("alice"))
        assert response.status_code == 200, response.content
        return response.json()

    bodies = in_parallel(8, migrate)
    assert sum(body["migrated"] for body in bodies) == 20
    assert sorted(body["total"] for body in bodies) == [0] * 7 + [20]
    assert ServiceAccount.objects.filter(org=org).count() == 20
    assert ServiceAccountToken.objects.filter(service_account__org=org).count() == 20
    assert connection.vendor == "postgresql"


def test_autogen_name_is_truncated_to_fit(org, make_key):
    make_key("x" * 190)
    migrate_keys(org, actor=SYSTEM)
    assert len(ServiceAccount.objects.get().name) <= ServiceAccount.NAME_MAX_LENGTH
    assert services.AUTOGEN_PREFIX == "sa-autogen"
