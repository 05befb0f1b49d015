"""Bearer authentication with legacy API keys (a ``KEYHOUSE_CREDENTIAL_BACKENDS`` entry).

A migrated key is found as its service account's token (same digest) and acts as that account;
an unmigrated one acts with its own role in its own org. The lookup itself is declared here
and run by ``tokens.auth``, the one module of the authentication hot path.
"""

from __future__ import annotations

from django.http import HttpRequest

from accounts.access import Identity
from accounts.api_auth import AuthenticationFailed, Credentials
from apikeys import format as key_format
from apikeys.models import ApiKey
from tokens.auth import TOKEN_LOOKUP, CredentialLookup, FirstFound, identity_for

KEY_LOOKUP = CredentialLookup(
    kind="api-key",
    model=ApiKey,
    org_path=("org",),
    columns={
        "pk": (ApiKey, "id"),
        "owner_id": (ApiKey, "id"),
        "name": (ApiKey, "name"),
        "role": (ApiKey, "role"),
        "is_revoked": (ApiKey, "is_revoked"),
        "created_at": (ApiKey, "created_at"),
        "expires_at": (ApiKey, "expires_at"),
        "last_used_at": (ApiKey, "last_used_at"),
    },
    fixed={"login": "", "is_disabled": False, "records_client": False},
    must_be_null=("migrated_at",),
)
# A migrated key is its account's token (same digest): tokens first.
TOKEN_OR_KEY_LOOKUP = FirstFound((TOKEN_LOOKUP, KEY_LOOKUP))


class ApiKeyBackend:
    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None:
        if not credentials.is_token or key_format.parse(credentials.secret) is None:
            return None
        found = TOKEN_OR_KEY_LOOKUP.find(key_format.digest(credentials.secret))
        if found is None:
            raise AuthenticationFailed("unknown API key")
        return identity_for(found, org_id, request)
