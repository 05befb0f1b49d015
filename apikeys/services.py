"""Legacy API keys: creation, deletion and their migration to service accounts (DESIGN §7)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import Identity, check_role_ceiling
from accounts.errors import Conflict, Refusal, message_of
from accounts.models import Organization, ServiceAccount
from accounts.names import fits, login_slug, name_key
from accounts.roles import Role
from accounts.services import MAX_SECONDS_TO_LIVE, clean_name, save_unique
from apikeys import format as key_format
from apikeys.models import ApiKey
from tokens.models import ServiceAccountToken

logger = logging.getLogger("keyhouse.apikeys")

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 30 * 86400}
_DURATION_RE = re.compile(r"(\d{1,9})([smhdwM])")
AUTOGEN_PREFIX = "sa-autogen"


class ApiKeysMigrated(Refusal):
    """The org moved to service accounts: no new API keys."""

    status = 410
    default_message = (
        "API keys were migrated to service accounts in this organization; "
        "create a service account token instead."
    )


def parse_ttl(text: str) -> int:
    """Seconds in a Grafana-style duration like ``30s``, ``15m``, ``12h``, ``7d``, ``2w``, ``1M``.

    An empty value means no expiration (0).
    """
    text = text.strip()
    if not text:
        return 0
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        raise ValidationError("Not a valid duration", code="ttl")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_seconds_to_live(seconds: int) -> None:
    """Grafana's rules for key lifetimes under ``KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE``."""
    limit = settings.KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE
    if seconds < 0:
        raise ValidationError("Number of seconds before expiration cannot be negative", code="ttl")
    if seconds > MAX_SECONDS_TO_LIVE:
        raise ValidationError(
            f"Number of seconds before expiration must be at most {MAX_SECONDS_TO_LIVE}", code="ttl"
        )
    if limit == -1:
        return
    if seconds == 0:
        raise ValidationError("Number of seconds before expiration should be set", code="ttl")
    if seconds > limit:
        raise ValidationError(
            "Number of seconds before expiration is greater than the global limit", code="ttl"
        )


@transaction.atomic
def api_key_create(
    *, identity: Identity, name: str, role: Role, seconds_to_live: int
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which exists only in this return value."""
    org = Organization.objects.select_for_update().get(pk=identity.org.pk)
    if org.api_keys_migrated_at is not None or org.api_keys_hidden:
        raise ApiKeysMigrated()
    check_role_ceiling(identity, role)
    name = clean_name(name, what="Key name", max_length=ApiKey.NAME_MAX_LENGTH)
    check_seconds_to_live(seconds_to_live)
    now = timezone.now()
    secret = key_format.generate(name, org.pk)
    key = ApiKey(
        org=org,
        name=name,
        role=role,
        digest=key_format.digest(secret),
        created_at=now,
        expires_at=now + timedelta(seconds=seconds_to_live) if seconds_to_live else None,
    )
    save_unique(key, conflict=f"An API key named '{name}' already exists.")
    return key, secret


def api_key_delete(*, key: ApiKey) -> None:
    key.delete()


# --- Migration ----------------------------------------------------------------------------


@dataclass
class MigrationResult:
    total: int = 0
    migrated: int = 0
    failed: int = 0
    failed_ids: list[int] = field(default_factory=list)
    failed_details: list[str] = field(default_factory=list)
    accounts: list[ServiceAccount] = field(default_factory=list)

    def to_api(self) -> dict:
        return {
            "total": self.total,
            "migrated": self.migrated,
            "failed": self.failed,
            "failedApikeyIDs": self.failed_ids,
            "failedDetails": self.failed_details,
        }


@dataclass(frozen=True)
class PlannedAccount:
    key: ApiKey
    name: str
    login: str


@dataclass
class _TakenNames:
    """Names and logins already in use, loaded once per run instead of queried per key."""

    names: set[str]
    logins: set[str]

    @classmethod
    def load(cls, org: Organization) -> _TakenNames:
        prefix = f"{AUTOGEN_PREFIX}-{org.pk}-"
        return cls(
            names=set(ServiceAccount.objects.for_org(org).values_list("name_key", flat=True)),
            logins=set(
                ServiceAccount.objects.filter(login__startswith=prefix).values_list(
                    "login", flat=True
                )
            ),
        )

    def claim(self, org: Organization, key: ApiKey) -> tuple[str, str]:
        """``sa-autogen-<key name>`` and its login, with ``-001``… until both are free."""
        base = f"{AUTOGEN_PREFIX}-{key.name}"
        while not fits(f"{base}-999", ServiceAccount.NAME_MAX_LENGTH):
            base = base[:-1]
        base_login = f"{AUTOGEN_PREFIX}-{org.pk}-{login_slug(base[len(AUTOGEN_PREFIX) + 1 :])}"
        for number in range(1000):
            suffix = f"-{number:03d}" if number else ""
            name, login = f"{base}{suffix}", f"{base_login}{suffix}"
            if name_key(name) not in self.names and login not in self.logins:
                self.names.add(name_key(name))
                self.logins.add(login)
                return name, login
        raise Conflict(f"No free service account name for API key '{key.name}'.")


def plan_migration(org: Organization) -> list[PlannedAccount]:
    """What "migrate all" would create, for the confirmation step (no writes)."""
    taken = _TakenNames.load(org)
    return [
        PlannedAccount(key, *taken.claim(org, key))
        for key in ApiKey.objects.filter(org=org).unmigrated()
    ]


def _migrate_key(key: ApiKey, name: str, login: str, now: datetime) -> ServiceAccount:
    """Turn one key into a service account whose token has the key's own digest."""
    account = ServiceAccount.objects.create(
        org=key.org, name=name, login=login, role=key.role, created_by=None
    )
    ServiceAccountToken.objects.create(
        service_account=account,
        name=key.name,
        digest=key.digest,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        is_revoked=key.is_revoked,
    )
    key.service_account = account
    key.migrated_at = now
    key.save(update_fields=["service_account", "migrated_at"])
    return account


def migrate_keys(
    org: Organization,
    *,
    key_ids: Iterable[int] | None = None,
    mark_org: bool = True,
    progress: Callable[[int], None] | None = None,
) -> MigrationResult:
    """Migrate the org's unmigrated keys (all, or ``key_ids``), each in its own savepoint.

    The org row is locked for the whole run, so concurrent runs queue up and never migrate a
    key twice. A key that fails is left exactly as it was and reported; the others go on.
    When every key of the org has been migrated, the org is marked so new keys are refused.
    """
    now = timezone.now()
    result = MigrationResult()
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=org.pk)
        keys = ApiKey.objects.filter(org=org).unmigrated().select_related("org")
        if key_ids is not None:
            keys = keys.filter(pk__in=list(key_ids))
        taken = _TakenNames.load(org)
        # A list, not iterator(): SQLite must not stream a table the loop is updating.
        for key in list(keys):
            result.total += 1
            try:
                name, login = taken.claim(org, key)
                with transaction.atomic():
                    account = _migrate_key(key, name, login, now)
            except Exception as exc:  # reported per key, never fatal for the rest
                logger.exception("migrating API key %s failed", key.pk)
                result.failed += 1
                result.failed_ids.append(key.pk)
                result.failed_details.append(f"API key '{key.name}': {_failure_reason(exc)}")
            else:
                result.migrated += 1
                result.accounts.append(account)
            if progress is not None:
                progress(result.total)
        all_done = not ApiKey.objects.filter(org=org).unmigrated().exists()
        if mark_org and all_done and org.api_keys_migrated_at is None:
            org.api_keys_migrated_at = now
            org.save(update_fields=["api_keys_migrated_at"])
    return result


def _failure_reason(exc: Exception) -> str:
    """What the summary may say: our own refusals verbatim, anything else (which could carry
    database internals) only as a pointer to the server log."""
    if isinstance(exc, Refusal | ValidationError):
        return message_of(exc)
    return "unexpected error; the server log has the details"


def hide_api_keys(org: Organization) -> None:
    """Hide the page for good; only once no key is left that would need it."""
    if ApiKey.objects.filter(org=org).unmigrated().exists():
        raise ValidationError(
            "Migrate or delete the remaining API keys before hiding the API keys page."
        )
    Organization.objects.filter(pk=org.pk).update(api_keys_hidden=True)
