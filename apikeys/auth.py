"""Bearer authentication with legacy API keys (a ``KEYHOUSE_CREDENTIAL_BACKENDS`` entry).

A migrated key is found as its service account's token (same digest) and acts as that account;
an unmigrated one acts with its own role in its own org.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from accounts.access import Identity
from accounts.api_auth import AuthenticationFailed, Credentials
from accounts.roles import Role
from apikeys import format as key_format
from apikeys.models import ApiKey
from tokens.auth import find_token, identity_for_token, touch_last_used


class ApiKeyBackend:
    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None:
        if not credentials.is_token or key_format.parse(credentials.secret) is None:
            return None
        token = find_token(credentials.secret)
        if token is not None:
            return identity_for_token(token, org_id)
        key = (
            ApiKey.objects.select_related("org")
            .unmigrated()
            .filter(digest=key_format.digest(credentials.secret))
            .first()
        )
        if key is None:
            raise AuthenticationFailed("unknown API key")
        now = timezone.now()
        if key.is_revoked:
            raise AuthenticationFailed(f"API key {key.pk} is revoked")
        if key.is_expired(now):
            raise AuthenticationFailed(f"API key {key.pk} has expired")
        if org_id is not None and org_id != key.org_id:
            raise AuthenticationFailed(f"API key {key.pk} used for org {org_id}")
        touch_last_used(key, now)
        return Identity(kind="api-key", org=key.org, role=Role(key.role), credential=key)
