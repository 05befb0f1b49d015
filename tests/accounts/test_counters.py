"""The counters the database keeps (``NamedModel.DATABASE_KEPT``, triggers of migration
tokens 0005) stay equal to a fresh COUNT after every kind of write: the services, the key
migration's bulk inserts, cascades, and raw ORM writes that no Python code could follow."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count

from accounts.models import Organization, ServiceAccount
from accounts.services import service_account_delete
from apikeys.services import migrate_keys
from tests.helpers import SYSTEM
from tokens.models import ServiceAccountToken
from tokens.services import token_create, token_delete, token_revoke, token_rotate


def counters() -> dict[str, dict[int, int]]:
    """Every counter, checked against the COUNT it stands for; returns the counters."""
    orgs = dict(Organization.objects.values_list("pk", "service_account_count"))
    per_org = ServiceAccount.objects.values("org").annotate(n=Count("pk")).order_by()
    assert orgs == dict.fromkeys(orgs, 0) | dict(per_org.values_list("org", "n"))
    accounts = dict(ServiceAccount.objects.values_list("pk", "token_count"))
    counted = ServiceAccount.objects.annotate(n=Count("tokens"))
    assert accounts == dict(counted.values_list("pk", "n"))
    return {"orgs": orgs, "accounts": accounts}


def new_token(account: ServiceAccount, name: str) -> ServiceAccountToken:
    digest = f"{ServiceAccountToken.objects.count() + 1:064x}"
    return ServiceAccountToken.objects.create(service_account=account, name=name, digest=digest)


def test_the_services_keep_both_counters(org, org_admin, make_account):
    account = make_account("robot")
    assert counters()["orgs"][org.pk] == 1
    token, _ = token_create(identity=org_admin, account=account, name="a", expires_at=None)
    token_create(identity=org_admin, account=account, name="b", expires_at=None)
    assert counters()["accounts"][account.pk] == 2
    rotation = token_rotate(
        identity=org_admin, token=token, grace=timedelta(hours=1), expires_at=None
    )
    token_revoke(identity=org_admin, token=rotation.new)
    assert counters()["accounts"][account.pk] == 3
    token_delete(identity=org_admin, token=token)
    assert counters()["accounts"][account.pk] == 2
    service_account_delete(identity=org_admin, account=account)
    assert counters()["orgs"][org.pk] == 0


def test_the_key_migrations_bulk_inserts_keep_both_counters(org, make_key, make_account):
    make_account("already here")
    for number in range(3):
        make_key(f"key {number}")
    result = migrate_keys(org, actor=SYSTEM)
    assert result.migrated == 3
    found = counters()
    assert found["orgs"][org.pk] == 4
    migrated = ServiceAccount.objects.filter(org=org).exclude(name="already here")
    assert {found["accounts"][pk] for pk in migrated.values_list("pk", flat=True)} == {1}


def test_raw_bulk_writes_moves_and_deletes_keep_both_counters(org, other_org, make_account):
    first, second = make_account("first"), make_account("second")
    ServiceAccountToken.objects.bulk_create(
        ServiceAccountToken(
            service_account=first, name=f"t{n}", name_key=f"t{n}", digest=f"{n:064x}"
        )
        for n in range(5)
    )
    assert counters()["accounts"] == {first.pk: 5, second.pk: 0}
    ServiceAccountToken.objects.filter(name__in=["t0", "t1"]).update(service_account=second)
    assert counters()["accounts"] == {first.pk: 3, second.pk: 2}
    ServiceAccountToken.objects.filter(name="t2").delete()
    ServiceAccount.objects.filter(pk=second.pk).update(org=other_org)
    found = counters()["orgs"]
    assert (found[org.pk], found[other_org.pk]) == (1, 1)
    assert counters()["accounts"] == {first.pk: 2, second.pk: 2}
    other_org.delete()  # cascades to the account and its tokens
    assert counters()["orgs"][org.pk] == 1


def test_saving_a_stale_instance_never_writes_a_counter_back(org, make_account):
    account = make_account("robot")
    stale_org = Organization.objects.get(pk=org.pk)
    new_token(account, "made after the account was read")
    make_account("another")
    account.name = "renamed"
    account.save()
    stale_org.api_keys_hidden = True
    stale_org.save()
    found = counters()
    assert (found["orgs"][org.pk], found["accounts"][account.pk]) == (2, 1)
    assert ServiceAccount.objects.get(pk=account.pk).name == "renamed"
    assert Organization.objects.get(pk=org.pk).api_keys_hidden


BEFORE = [("accounts", "0008_invites_password_resets"), ("tokens", "0004_token_expiry_recorded")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_counters_of_existing_rows():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    org = old.get_model("accounts", "Organization").objects.create(name="Old", name_key="old")
    accounts = old.get_model("accounts", "ServiceAccount").objects
    tokens = old.get_model("tokens", "ServiceAccountToken").objects
    for number in range(3):
        account = accounts.create(
            org=org, name=f"a{number}", name_key=f"a{number}", login=f"a{number}"
        )
        for index in range(number):
            tokens.create(
                service_account=account,
                name=f"t{index}",
                name_key=f"t{index}",
                digest=f"{number}{index:063x}",
            )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    found = counters()
    assert found["orgs"][org.pk] == 3
    assert sorted(found["accounts"].values()) == [0, 1, 2]
