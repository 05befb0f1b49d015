"""The contract of the authentication hot path (``tokens.auth``): its hand-written reading of
a row equals the ORM's reading of the same row, value for value and type for type, for every
``CredentialLookup`` — once with every field set and once with every nullable field NULL.
The suite runs on SQLite and on PostgreSQL, so this holds on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import models

from accounts.models import Organization, ServiceAccount
from accounts.roles import Role
from apikeys.auth import KEY_LOOKUP, TOKEN_OR_KEY_LOOKUP
from apikeys.models import ApiKey
from tokens.auth import (
    ORG_FIELDS,
    TOKEN_LOOKUP,
    CredentialLookup,
    FirstFound,
    FoundCredential,
)
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db

LOOKUPS = {"token": TOKEN_LOOKUP, "api key": KEY_LOOKUP}
# Microseconds and an odd offset: any loss of precision or time zone shows.
WHEN = datetime(2031, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)


def orm_reading(lookup: CredentialLookup, digest: str) -> dict[str, Any]:
    """The ORM's values for what ``lookup`` reads, from the instances of the same row."""
    row = lookup.model._default_manager.select_related("__".join(lookup.org_path)).get(
        digest=digest
    )
    instances: dict[type[models.Model], models.Model] = {lookup.model: row}
    for name in lookup.org_path:
        row = getattr(row, name)
        instances[type(row)] = row
    values = {
        target: getattr(instances[model], model._meta.get_field(name).attname)
        for target, (model, name) in lookup.columns.items()
    }
    values |= {f"org.{name}": getattr(instances[Organization], name) for name in ORG_FIELDS}
    return values


def hand_reading(
    lookup: CredentialLookup, digest: str, finder: CredentialLookup | FirstFound | None = None
) -> dict[str, Any]:
    """What the hot path read (through ``finder``, by default ``lookup`` itself), in the same
    shape as ``orm_reading``."""
    found = (finder or lookup).find(digest)
    assert found is not None
    assert (found.model, found.kind) == (lookup.model, lookup.kind)
    assert all(getattr(found, name) == value for name, value in lookup.fixed.items())
    values = {name: getattr(found, name) for name in lookup.columns}
    return values | {f"org.{name}": getattr(found.org, name) for name in ORG_FIELDS}


def typed(values: dict[str, Any]) -> dict[str, tuple]:
    """Values with their types (``True == 1`` must not pass) and UTC offsets."""
    return {
        name: (type(value), value, value.utcoffset() if isinstance(value, datetime) else None)
        for name, value in values.items()
    }


def make_rows(org: Organization) -> dict[str, str]:
    """A token and an unmigrated API key with every field set; returns their digests."""
    Organization.objects.filter(pk=org.pk).update(api_keys_migrated_at=WHEN, api_keys_hidden=True)
    account = ServiceAccount.objects.create(
        org=org, name="robot", login="sa-robot", role=Role.EDITOR, is_disabled=True
    )
    ServiceAccountToken.objects.create(
        service_account=account,
        name="t",
        digest="t" * 64,
        created_at=WHEN,
        expires_at=WHEN + timedelta(days=1),
        last_used_at=WHEN - timedelta(days=1),
        is_revoked=True,
    )
    ApiKey.objects.create(
        org=org,
        name="k",
        role=Role.ADMIN,
        digest="k" * 64,
        expires_at=WHEN + timedelta(days=2),
        last_used_at=WHEN - timedelta(days=2),
        is_revoked=True,
    )
    return {"token": "t" * 64, "api key": "k" * 64}


def nullable_columns(lookup: CredentialLookup) -> set[str]:
    read = {target: (model, name) for target, (model, name) in lookup.columns.items()}
    read |= {f"org.{name}": (Organization, name) for name in ORG_FIELDS}
    return {target for target, (model, name) in read.items() if model._meta.get_field(name).null}


@pytest.mark.parametrize("kind", LOOKUPS)
def test_every_field_of_the_found_credential_comes_from_the_row_or_is_fixed(kind):
    lookup = LOOKUPS[kind]
    declared = {"model", "kind", "org"} | set(lookup.columns) | set(lookup.fixed)
    assert declared == set(FoundCredential.__dataclass_fields__)
    assert not set(lookup.columns) & set(lookup.fixed)


@pytest.mark.parametrize("kind", LOOKUPS)
def test_hand_reading_equals_the_orm_with_every_field_set(kind, org):
    lookup = LOOKUPS[kind]
    digest = make_rows(org)[kind]
    expected = orm_reading(lookup, digest)
    assert None not in expected.values(), "set every field, or this test proves nothing"
    assert typed(hand_reading(lookup, digest)) == typed(expected)
    assert typed(hand_reading(lookup, digest, TOKEN_OR_KEY_LOOKUP)) == typed(expected)


@pytest.mark.parametrize("kind", LOOKUPS)
def test_hand_reading_equals_the_orm_with_every_nullable_field_null(kind, org):
    lookup = LOOKUPS[kind]
    digest = make_rows(org)[kind]
    ServiceAccountToken.objects.update(expires_at=None, last_used_at=None)
    ApiKey.objects.update(expires_at=None, last_used_at=None)
    Organization.objects.update(api_keys_migrated_at=None)
    expected = orm_reading(lookup, digest)
    nullable = nullable_columns(lookup)
    assert nullable, "nothing nullable is read: drop this test"
    assert {name for name, value in expected.items() if value is None} == nullable
    assert typed(hand_reading(lookup, digest)) == typed(expected)
    assert typed(hand_reading(lookup, digest, TOKEN_OR_KEY_LOOKUP)) == typed(expected)


def test_the_org_is_a_model_instance_with_only_the_read_fields_loaded(org):
    found = TOKEN_LOOKUP.find(make_rows(org)["token"])
    assert found is not None
    assert isinstance(found.org, Organization)
    assert found.org.get_deferred_fields() == {
        field.attname for field in Organization._meta.concrete_fields
    } - set(ORG_FIELDS)


def test_a_migrated_key_is_not_found_as_a_legacy_key(org):
    digest = make_rows(org)["api key"]
    ApiKey.objects.update(migrated_at=WHEN)
    assert KEY_LOOKUP.find(digest) is None
    assert TOKEN_LOOKUP.find("unknown") is None


def test_one_statement_finds_a_token_before_a_key_of_the_same_digest(org):
    """Migrating a key gives its token the key's digest; the key is marked migrated in the
    same transaction, but the token is what the digest stands for either way."""
    digest = make_rows(org)["token"]
    ApiKey.objects.update(digest=digest)
    assert ServiceAccountToken.objects.filter(digest=digest).exists()
    found = TOKEN_OR_KEY_LOOKUP.find(digest)
    assert found is not None
    assert found.model is ServiceAccountToken
    ServiceAccountToken.objects.all().delete()
    found = TOKEN_OR_KEY_LOOKUP.find(digest)
    assert found is not None
    assert found.model is ApiKey
    ApiKey.objects.update(migrated_at=WHEN)
    assert TOKEN_OR_KEY_LOOKUP.find(digest) is None
