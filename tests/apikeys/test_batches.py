"""Migration in batches: one transaction per batch under the org lock, bulk inserts inside,
whole keys only whatever the point a run stops at, and a second run that finishes the rest."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ServiceAccount
from apikeys import services
from apikeys.models import ApiKey
from apikeys.services import migrate_keys, plan_migration
from tests.helpers import SYSTEM, bearer, half_migrated
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db


class Crash(BaseException):
    """What the process dying looks like from inside: nothing catches it."""


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(services, "MIGRATION_BATCH_SIZE", 2)


def unmigrated(org) -> int:
    return ApiKey.objects.filter(org=org).unmigrated().count()


def test_batches_commit_in_turn_and_the_org_is_marked_after_the_last(org, make_key, small_batches):
    for number in range(5):
        make_key(f"k{number}")
    seen = []

    def progress(done: int) -> None:
        org.refresh_from_db()
        seen.append((done, unmigrated(org), org.api_keys_migrated_at is not None))

    result = migrate_keys(org, actor=SYSTEM, progress=progress)
    assert (result.total, result.migrated, result.failed) == (5, 5, 0)
    assert seen == [(2, 3, False), (4, 1, False), (5, 0, True)]


def test_a_batch_takes_the_same_queries_for_2_keys_as_for_40(org, make_key):
    def queries_for(count: int) -> int:
        for number in range(count):
            make_key(f"{count}-{number}")
        with CaptureQueriesContext(connection) as queries:
            assert migrate_keys(org, actor=SYSTEM, mark_org=False).migrated == count
        return len(queries)

    assert queries_for(2) == queries_for(40)


@pytest.mark.django_db(transaction=True)
def test_a_run_that_dies_after_a_batch_leaves_whole_keys_and_a_rerun_finishes(
    client, org, make_key, small_batches
):
    secrets = [make_key(f"k{number}")[1] for number in range(5)]

    def die(done: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        migrate_keys(org, actor=SYSTEM, progress=die)
    assert unmigrated(org) == 3
    assert ServiceAccount.objects.filter(org=org).count() == 2
    assert half_migrated(connection.cursor()) == []
    org.refresh_from_db()
    assert org.api_keys_migrated_at is None
    # Migrated or not, every key still works: as its account's token, or as a legacy key.
    assert [client.get("/api/org", **bearer(s)).status_code for s in secrets] == [200] * 5

    result = migrate_keys(org, actor=SYSTEM)
    assert (result.total, result.migrated, result.failed) == (3, 3, 0)
    assert half_migrated(connection.cursor()) == []
    assert ServiceAccountToken.objects.filter(service_account__org=org).count() == 5
    org.refresh_from_db()
    assert org.api_keys_migrated_at is not None
    assert [client.get("/api/org", **bearer(s)).status_code for s in secrets] == [200] * 5


@pytest.mark.django_db(transaction=True)
def test_a_run_that_dies_inside_a_batch_leaves_that_batch_untouched(
    org, make_key, small_batches, monkeypatch
):
    for number in range(5):
        make_key(f"k{number}")
    real_insert = ServiceAccountToken.objects.bulk_create
    calls = []

    def insert_then_die(objs, *args, **kwargs):
        created = real_insert(objs, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # the second batch, its accounts and tokens inserted
            raise Crash
        return created

    monkeypatch.setattr(ServiceAccountToken.objects, "bulk_create", insert_then_die)
    with pytest.raises(Crash):
        migrate_keys(org, actor=SYSTEM)
    assert unmigrated(org) == 3
    assert ServiceAccount.objects.filter(org=org).count() == 2
    assert half_migrated(connection.cursor()) == []
    monkeypatch.undo()
    assert migrate_keys(org, actor=SYSTEM).migrated == 3
    assert half_migrated(connection.cursor()) == []


def test_a_key_the_database_refuses_fails_alone_and_the_batch_goes_on(org, make_key, make_account):
    make_key("good")
    bad, _ = make_key("bad")
    make_key("also good")
    # A token that already has the key's digest: the bulk insert breaks the unique index.
    squatter = make_account("squatter")
    ServiceAccountToken.objects.create(service_account=squatter, name="copy", digest=bad.digest)
    result = migrate_keys(org, actor=SYSTEM)
    assert (result.total, result.migrated, result.failed) == (3, 2, 1)
    assert result.failed_ids == [bad.pk]
    assert result.failed_details == [
        "API key 'bad': unexpected error; the server log has the details"
    ]
    bad.refresh_from_db()
    assert (bad.migrated_at, bad.service_account) == (None, None)
    assert sorted(ServiceAccount.objects.filter(org=org).values_list("name", flat=True)) == [
        "sa-autogen-also good",
        "sa-autogen-good",
        "squatter",
    ]


def test_names_taken_in_an_earlier_batch_or_the_same_one_get_a_suffix(org, make_key, small_batches):
    for name in ("a b", "x", "a-b", "a-b-001"):
        make_key(name)
    planned = {(p.key.name, p.name, p.login) for p in plan_migration(org)}
    migrate_keys(org, actor=SYSTEM)
    made = {
        (key.name, key.service_account.name, key.service_account.login)
        for key in ApiKey.objects.select_related("service_account")
    }
    prefix = f"sa-autogen-{org.pk}"
    assert (
        made
        == planned
        == {
            ("a b", "sa-autogen-a b", f"{prefix}-a-b"),
            ("x", "sa-autogen-x", f"{prefix}-x"),
            # Its login is the one "a b" took in the first batch.
            ("a-b", "sa-autogen-a-b-001", f"{prefix}-a-b-001"),
            # Its name is the one "a-b" took just before, in the same batch.
            ("a-b-001", "sa-autogen-a-b-001-001", f"{prefix}-a-b-001-001"),
        }
    )


def test_a_key_without_a_free_name_is_refused_in_the_summary(org, make_key):
    taken = ["sa-autogen-x"] + [f"sa-autogen-x-{number:03d}" for number in range(1, 1000)]
    ServiceAccount.objects.bulk_create(
        ServiceAccount(org=org, name=name, name_key=name, login=f"manual-{name}") for name in taken
    )
    x, _ = make_key("x")
    make_key("y")
    result = migrate_keys(org, actor=SYSTEM)
    assert (result.total, result.migrated, result.failed) == (2, 1, 1)
    assert result.failed_ids == [x.pk]
    assert result.failed_details == ["API key 'x': No free service account name for API key 'x'."]
    assert ServiceAccount.objects.filter(name="sa-autogen-y").exists()
