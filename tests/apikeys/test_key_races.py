"""Deleting a key or hiding the page while a migration batch or a key creation holds the org
lock: real row locks across connections, so PostgreSQL only."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import lock_org
from apikeys import services
from apikeys.models import ApiKey
from apikeys.services import api_key_create, hide_api_keys, migrate_keys
from tests.helpers import (
    SYSTEM,
    basic_auth,
    bearer,
    half_migrated,
    identity_of,
    in_parallel,
    needs_postgresql,
    signed_in,
    until_another_transaction_waits_for_ours,
    while_held,
)
from tokens.models import ServiceAccountToken

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]


@pytest.fixture(params=["api", "ui"])
def channel(request, admin) -> tuple[str, Client]:
    """Alice's client on the JSON API or signed in to the UI."""
    if request.param == "api":
        return "api", Client(**basic_auth("alice"))
    return "ui", signed_in(admin)


def delete_path(channel: str, key: ApiKey) -> str:
    return f"/api/auth/keys/{key.pk}" if channel == "api" else f"/org/apikeys/{key.pk}/delete"


def test_deleting_a_key_a_migration_batch_is_moving_answers_404(org, make_key, channel):
    name, client = channel
    key, secret = make_key("deploy")
    send = client.delete if name == "api" else client.post
    response = while_held(
        lambda: migrate_keys(org, actor=SYSTEM), lambda: send(delete_path(name, key))
    )
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.migrated_at is not None
    # Nothing claimed a deletion: the string works on, as the account's token.
    assert Client().get("/api/org", **bearer(secret)).status_code == 200


def test_deleting_and_migrating_at_once_never_both_succeed(org, org_admin, admin):
    keys = [
        api_key_create(identity=org_admin, name=f"k{n}", role=Role.VIEWER, seconds_to_live=60)[0]
        for n in range(20)
    ]
    victim = keys[-1]
    turn = iter(["migrate", "delete"])
    lock = threading.Lock()

    def act() -> tuple[str, int]:
        with lock:
            what = next(turn)
        client = Client(**basic_auth("alice"))
        if what == "delete":
            return what, client.delete(delete_path("api", victim)).status_code
        return what, client.post("/api/serviceaccounts/migrate").status_code

    outcome = dict(in_parallel(2, act))
    assert outcome["migrate"] == 200
    digest_is_a_token = ServiceAccountToken.objects.filter(digest=victim.digest).exists()
    if outcome["delete"] == 200:
        assert not ApiKey.objects.filter(pk=victim.pk).exists()
        assert not digest_is_a_token
    else:
        assert outcome["delete"] == 404
        assert ApiKey.objects.get(pk=victim.pk).migrated_at is not None
        assert digest_is_a_token


def test_hiding_while_a_key_is_being_created_sees_the_key(org, org_admin, channel):
    name, client = channel

    def create() -> None:
        api_key_create(identity=org_admin, name="late", role=Role.VIEWER, seconds_to_live=60)

    path = "/api/serviceaccounts/hideApiKeys" if name == "api" else "/org/apikeys/hide"
    response = while_held(create, lambda: client.post(path))
    if name == "api":
        assert response.status_code == 400
        assert "Migrate or delete the remaining API keys" in response.json()["message"]
    else:
        assert (response.status_code, response["Location"]) == (302, "/org/apikeys")
    org.refresh_from_db()
    assert not org.api_keys_hidden
    assert ApiKey.objects.filter(org=org, name="late").exists()


def test_creating_a_key_while_the_page_is_being_hidden_is_refused(org, admin):
    identity = identity_of(admin, org)
    response = while_held(
        lambda: hide_api_keys(identity=identity),
        lambda: Client().post(
            "/api/auth/keys",
            {"name": "late", "role": "Viewer"},
            "application/json",
            **basic_auth("alice"),
        ),
    )
    assert response.status_code == 410
    assert not ApiKey.objects.filter(org=org).exists()


def test_parallel_migrations_in_small_batches_migrate_each_key_once(org, org_admin, monkeypatch):
    monkeypatch.setattr(services, "MIGRATION_BATCH_SIZE", 3)
    for number in range(20):
        api_key_create(identity=org_admin, name=f"k{number}", role=Role.VIEWER, seconds_to_live=60)

    def migrate() -> dict:
        response = Client().post("/api/serviceaccounts/migrate", **basic_auth("alice"))
        assert response.status_code == 200, response.content
        return response.json()

    bodies = in_parallel(8, migrate)
    # Runs take turns batch by batch; each key is in exactly one run's summary.
    assert sum(body["total"] for body in bodies) == 20
    assert sum(body["migrated"] for body in bodies) == 20
    assert ServiceAccountToken.objects.filter(service_account__org=org).count() == 20
    assert half_migrated(connection.cursor()) == []
    org.refresh_from_db()
    assert org.api_keys_migrated_at is not None


def test_creating_an_account_named_like_a_key_a_batch_is_migrating_is_a_conflict(
    org, make_key, monkeypatch
):
    """The batch holds the org lock and has not yet claimed the key's name when the create
    comes: the create must wait for the lock before it claims the name, or each would wait
    for the other (PostgreSQL would abort one as a deadlock)."""
    make_key("deploy")
    name = f"{services.AUTOGEN_PREFIX}-deploy"  # the account the migration makes of it
    locked = threading.Event()

    def lock_and_let_the_create_come(org_id):
        org = lock_org(org_id)
        locked.set()
        until_another_transaction_waits_for_ours()
        return org

    monkeypatch.setattr(services, "lock_org", lock_and_let_the_create_come)

    def create():
        locked.wait()
        return Client().post(
            "/api/serviceaccounts", {"name": name}, "application/json", **basic_auth("alice")
        )

    migrated = []

    def migrate():
        try:
            migrated.append(migrate_keys(org, actor=SYSTEM))
        finally:
            connections.close_all()

    migration = threading.Thread(target=migrate)
    migration.start()
    try:
        response = create()
    finally:
        migration.join()
    assert response.status_code == 409, response.content
    assert migrated[0].migrated == 1
    assert ServiceAccount.objects.get(org=org, name=name).tokens.count() == 1
