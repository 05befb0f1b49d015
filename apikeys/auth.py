"""Bearer authentication with legacy API keys (a ``KEYHOUSE_CREDENTIAL_BACKENDS`` entry).

A migrated key is found as its service account's token (same digest) and acts as that account;
an unmigrated one acts with its own role in its own org.
"""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest

from accounts import rows
from accounts.access import Identity
from accounts.api_auth import AuthenticationFailed, Credentials
from accounts.models import Organization
from apikeys import format as key_format
from apikeys.models import ApiKey
from tokens.auth import ORG_FIELDS, FoundCredential, find_token, identity_for

KEY_FIELDS = ("id", "role", "expires_at", "last_used_at", "is_revoked")


@cache
def _key_sql() -> str:
    # Only model metadata is pasted in; the digest is a parameter.
    return (
        f"SELECT {rows.columns('k', ApiKey, KEY_FIELDS)}, "  # noqa: S608
        f"{rows.columns('o', Organization, ORG_FIELDS)} "
        f"FROM {ApiKey._meta.db_table} k "
        f"JOIN {Organization._meta.db_table} o ON o.id = k.org_id "
        "WHERE k.digest = %s AND k.migrated_at IS NULL"
    )


def find_unmigrated_key(digest: str) -> FoundCredential | None:
    row = rows.fetch_one(_key_sql(), [digest])
    if row is None:
        return None
    pk, role, expires_at, last_used_at, is_revoked = rows.convert(
        ApiKey, KEY_FIELDS, row[: len(KEY_FIELDS)]
    )
    return FoundCredential(
        model=ApiKey,
        pk=pk,
        kind="api-key",
        owner_id=pk,
        role=role,
        is_disabled=False,
        is_revoked=is_revoked,
        expires_at=expires_at,
        last_used_at=last_used_at,
        org=rows.build(Organization, ORG_FIELDS, row[len(KEY_FIELDS) :]),
    )


class ApiKeyBackend:
    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None:
        if not credentials.is_token or key_format.parse(credentials.secret) is None:
            return None
        digest = key_format.digest(credentials.secret)
        found = find_token(digest) or find_unmigrated_key(digest)
        if found is None:
            raise AuthenticationFailed("unknown API key")
        return identity_for(found, org_id)
