"""Legacy API keys: creation, deletion and their migration to service accounts (DESIGN §7)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.access import Identity, check_role_ceiling
from accounts.audit.services import Actor, Target, record, record_all
from accounts.errors import Conflict, NotFound, Refusal, message_of
from accounts.models import Organization, ServiceAccount, isoformat
from accounts.names import fits, login_slug, name_key
from accounts.roles import Role
from accounts.services import MAX_SECONDS_TO_LIVE, clean_name, lock_org, save_unique
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
    org = lock_org(identity.org.pk)
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
    record("apikey.create", actor=identity, target=key, details=_key_details(key))
    return key, secret


def _key_details(key: ApiKey) -> dict:
    return {"role": key.role, "expiration": isoformat(key.expires_at)}


@transaction.atomic
def api_key_delete(*, identity: Identity, key: ApiKey) -> None:
    """Delete a key that is still a legacy key. A migration that took the org lock first has
    turned it into a token that keeps the same string working: then it is gone as a key."""
    lock_org(key.org_id)
    target, details = Target.of(key), _key_details(key)
    deleted, _ = ApiKey.objects.filter(pk=key.pk).unmigrated().delete()
    if not deleted:
        raise NotFound("API key not found")
    record("apikey.delete", actor=identity, target=target, details=details)


# --- Migration ----------------------------------------------------------------------------

# Keys per transaction. The batch holds SQLite's write lock, so it bounds how long any other
# writer waits (bench/migrate.py measures it).
MIGRATION_BATCH_SIZE = 500
# SQLite's busy handler retries a waiting writer every 100 ms at most: a gap that long between
# committed batches lets it in instead of the next batch taking the lock again at once.
SQLITE_BATCH_GAP_SECONDS = 0.1
# Values per ``IN (...)`` when looking names up, well under SQLite's parameter limit.
_LOOKUP_CHUNK = 900


@dataclass
class MigrationResult:
    total: int = 0
    migrated: int = 0
    failed: int = 0
    failed_ids: list[int] = field(default_factory=list)
    failed_details: list[str] = field(default_factory=list)
    # Only the last one is kept, so a run over any number of keys holds constant memory.
    last_account: ServiceAccount | None = None

    def key_migrated(self, key: ApiKey, account: ServiceAccount) -> None:
        """One key became ``account``; called inside the batch's transaction."""
        self.migrated += 1
        self.last_account = account

    def key_failed(self, key: ApiKey, exc: Exception) -> None:
        """One key was left as it was; the others go on."""
        self.failed += 1
        self.failed_ids.append(key.pk)
        self.failed_details.append(f"API key '{key.name}': {_failure_reason(exc)}")

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


def _candidates(org: Organization, key: ApiKey) -> Iterator[tuple[str, str]]:
    """``sa-autogen-<key name>`` and its login, then with ``-001``… ``-999``."""
    base = f"{AUTOGEN_PREFIX}-{key.name}"
    while not fits(f"{base}-999", ServiceAccount.NAME_MAX_LENGTH):
        base = base[:-1]
    base_login = f"{AUTOGEN_PREFIX}-{org.pk}-{login_slug(base[len(AUTOGEN_PREFIX) + 1 :])}"
    for number in range(1000):
        suffix = f"-{number:03d}" if number else ""
        yield f"{base}{suffix}", f"{base_login}{suffix}"


class _TakenNames:
    """Which autogen names and logins are in use. The database is asked about a batch's first
    choices in one go, and again only for a key whose first choice is taken; what this run
    claims is remembered, so the keys of one run never get the same name."""

    def __init__(self, org: Organization) -> None:
        self.org = org
        self.checked: set[tuple[str, str]] = set()
        self.names: set[str] = set()
        self.logins: set[str] = set()

    def look_up(self, candidates: Iterable[tuple[str, str]]) -> None:
        pairs = [(name_key(name), login) for name, login in candidates]
        pairs = [pair for pair in pairs if pair not in self.checked]
        for start in range(0, len(pairs), _LOOKUP_CHUNK):
            chunk = pairs[start : start + _LOOKUP_CHUNK]
            accounts = ServiceAccount.objects.for_org(self.org)
            self.names.update(
                accounts.filter(name_key__in=[key for key, _ in chunk]).values_list(
                    "name_key", flat=True
                )
            )
            # Logins are unique across orgs.
            self.logins.update(
                ServiceAccount.objects.filter(login__in=[login for _, login in chunk]).values_list(
                    "login", flat=True
                )
            )
            self.checked.update(chunk)

    def look_up_first_choices(self, keys: Iterable[ApiKey]) -> None:
        self.look_up(next(_candidates(self.org, key)) for key in keys)

    def claim(self, key: ApiKey) -> tuple[str, str]:
        """The first free candidate of ``key``, now taken."""
        for number, (name, login) in enumerate(_candidates(self.org, key)):
            if (name_key(name), login) not in self.checked:
                self.look_up(islice(_candidates(self.org, key), number, None))
            if name_key(name) not in self.names and login not in self.logins:
                self.names.add(name_key(name))
                self.logins.add(login)
                return name, login
        raise Conflict(f"No free service account name for API key '{key.name}'.")


def _unmigrated_keys(org: Organization) -> QuerySet[ApiKey]:
    """In migration order: by id, so a run can go on from the last key of its previous batch."""
    return ApiKey.objects.filter(org_id=org.pk).unmigrated().order_by("pk")


def _next_batch(keys: QuerySet[ApiKey], after: int) -> list[ApiKey]:
    return list(keys.filter(pk__gt=after)[:MIGRATION_BATCH_SIZE])


def plan_migration(org: Organization) -> Iterator[PlannedAccount]:
    """What "migrate all" would create, key by key in its order, a batch in memory at a time
    (no writes)."""
    taken = _TakenNames(org)
    keys = _unmigrated_keys(org)
    after = 0
    while batch := _next_batch(keys, after):
        taken.look_up_first_choices(batch)
        for key in batch:
            yield PlannedAccount(key, *taken.claim(key))
        after = batch[-1].pk


def migrate_keys(
    org: Organization,
    *,
    actor: Identity | Actor,
    key_ids: Iterable[int] | None = None,
    mark_org: bool = True,
    progress: Callable[[int], None] | None = None,
) -> MigrationResult:
    """Migrate the org's unmigrated keys (all, or ``key_ids``), in batches by key id.

    Each batch is one transaction under the org lock: concurrent runs, key deletions and
    creations wait for a batch, never for the whole run, and no key is migrated twice. If the
    process dies, every key of a committed batch is fully migrated and the others untouched;
    running again finishes them. A key that fails is left as it was and reported; the others go
    on. The run whose last batch finds no unmigrated key left marks the org, so new keys are
    refused. ``progress`` gets the number of keys done after each batch. Each migrated key has
    its ``apikey.migrate`` event, written with it; a run over all keys ends with an
    ``apikey.migrate-all`` event with the counts, in its last batch.
    """
    now = timezone.now()
    result = MigrationResult()
    actor = Actor.of(actor) if isinstance(actor, Identity) else actor  # named once per run
    keys = _unmigrated_keys(org)
    if key_ids is not None:
        keys = keys.filter(pk__in=list(key_ids))
    after = 0
    while True:
        with transaction.atomic():
            locked = lock_org(org.pk)
            batch = _next_batch(keys, after)
            _migrate_batch(locked, batch, now, result, actor)
            last = len(batch) < MIGRATION_BATCH_SIZE
            if last and mark_org:
                _mark_migrated_when_done(locked, now)
            if last and key_ids is None:
                summary = {
                    "total": result.total,
                    "migrated": result.migrated,
                    "failed": result.failed,
                }
                record(
                    "apikey.migrate-all", actor=actor, org=locked, target=locked, details=summary
                )
        if batch and progress is not None:
            progress(result.total)
        if last:
            return result
        after = batch[-1].pk
        if connection.vendor == "sqlite" and not connection.in_atomic_block:
            time.sleep(SQLITE_BATCH_GAP_SECONDS)


def _mark_migrated_when_done(org: Organization, now: datetime) -> None:
    if org.api_keys_migrated_at is None and not _unmigrated_keys(org).exists():
        org.api_keys_migrated_at = now
        org.save(update_fields=["api_keys_migrated_at"])


def _migrate_batch(
    org: Organization, keys: list[ApiKey], now: datetime, result: MigrationResult, actor: Actor
) -> None:
    """All of ``keys`` in bulk inserts; if those fail, again key by key, each in its own
    savepoint, so one bad key cannot hold the others back."""
    result.total += len(keys)
    taken = _TakenNames(org)
    taken.look_up_first_choices(keys)
    planned = []
    for key in keys:
        try:
            planned.append(PlannedAccount(key, *taken.claim(key)))
        except Conflict as exc:
            result.key_failed(key, exc)
    try:
        with transaction.atomic():
            accounts = _create_accounts(org, planned, now, actor)
    except Exception:
        logger.warning("bulk migration of %d API keys failed; going key by key", len(planned))
    else:
        for item, account in zip(planned, accounts, strict=True):
            result.key_migrated(item.key, account)
        return
    for item in planned:
        try:
            with transaction.atomic():
                [account] = _create_accounts(org, [item], now, actor)
        except Exception as exc:  # reported per key, never fatal for the rest
            logger.exception("migrating API key %s failed", item.key.pk)
            result.key_failed(item.key, exc)
        else:
            result.key_migrated(item.key, account)


def _create_accounts(
    org: Organization, planned: list[PlannedAccount], now: datetime, actor: Actor
) -> list[ServiceAccount]:
    """Turn each planned key into a service account whose token has the key's own digest:
    accounts, then tokens, then the keys, then their audit events, one bulk query each."""
    accounts = ServiceAccount.objects.bulk_create(
        ServiceAccount(
            org=org,
            name=item.name,
            name_key=name_key(item.name),
            login=item.login,
            role=item.key.role,
            created_by=None,
        )
        for item in planned
    )
    ServiceAccountToken.objects.bulk_create(
        ServiceAccountToken(
            service_account=account,
            name=key.name,
            name_key=key.name_key,
            digest=key.digest,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            is_revoked=key.is_revoked,
        )
        for key, account in zip((item.key for item in planned), accounts, strict=True)
    )
    for item, account in zip(planned, accounts, strict=True):
        item.key.service_account = account
        item.key.migrated_at = now
    # One UPDATE, each key finding its account through the token that now has its digest.
    token = ServiceAccountToken.objects.filter(digest=OuterRef("digest"))
    ApiKey.objects.filter(pk__in=[item.key.pk for item in planned]).update(
        migrated_at=now, service_account=Subquery(token.values("service_account")[:1])
    )
    events = [
        (
            Target.of(item.key),
            {**_key_details(item.key), "serviceAccount": {"id": account.pk, "name": account.name}},
        )
        for item, account in zip(planned, accounts, strict=True)
    ]
    record_all("apikey.migrate", actor=actor, org=org, events=events)
    return accounts


def _failure_reason(exc: Exception) -> str:
    """What the summary may say: our own refusals verbatim, anything else (which could carry
    database internals) only as a pointer to the server log."""
    if isinstance(exc, Refusal | ValidationError):
        return message_of(exc)
    return "unexpected error; the server log has the details"


@transaction.atomic
def hide_api_keys(*, identity: Identity) -> None:
    """Hide the page for good; only once no key is left that would need it. Checked under the
    org lock, which creating a key takes too, so a key made at the same moment is either seen
    here or refused there."""
    org = lock_org(identity.org.pk)
    if ApiKey.objects.filter(org=org).unmigrated().exists():
        raise ValidationError(
            "Migrate or delete the remaining API keys before hiding the API keys page."
        )
    if not org.api_keys_hidden:
        org.api_keys_hidden = True
        org.save(update_fields=["api_keys_hidden"])
        record("apikeys.hide", actor=identity, target=org)
