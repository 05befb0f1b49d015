"""Leaked credentials reported by a secret scanner (``POST /api/auth/leaked``): every reported
string that is a working service-account token or legacy API key, in any org, is revoked at
once, its org's audit log says so (with the report's source and URL), and its org's Admins get
an e-mail. The reporter learns only counts: never which org or account a string belonged to.

It lives here, with the legacy keys, because it needs both kinds of credential (imports flow
``accounts ← tokens ← apikeys``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import models, transaction
from django.utils import timezone

from accounts.access import Identity, require_server_permission
from accounts.audit.services import Actor, record
from accounts.models import Organization, isoformat
from accounts.teams.catalogue import TOKENS_REPORT_LEAK
from apikeys import format as key_format
from apikeys.models import ApiKey
from tokens import format as token_format
from tokens.emails import leak_report
from tokens.models import ServiceAccountToken
from tokens.services import admin_addresses

logger = logging.getLogger("keyhouse.leaks")

MAX_REPORTED = 1000


@dataclass(frozen=True, slots=True)
class LeakCounts:
    reported: int
    revoked: int
    already_inactive: int
    unknown: int

    def to_api(self) -> dict[str, int]:
        return {
            "reported": self.reported,
            "revoked": self.revoked,
            "alreadyInactive": self.already_inactive,
            "unknown": self.unknown,
        }


@dataclass(frozen=True, slots=True)
class Revoked:
    """One credential this report revoked, for its org's e-mail."""

    kind: str  # "token" or "API key"
    name: str
    account: str  # the token's service account; empty for a legacy key


def digest_of(text: str) -> str | None:
    """The digest a token or legacy key string is stored under; None for anything that cannot
    be one (checked without the database, like authentication does)."""
    if token_format.parse(text) is not None:
        return token_format.digest(text)
    if key_format.parse(text) is not None:
        return key_format.digest(text)
    return None


def report_leaks(
    *, identity: Identity, strings: Iterable[str], source: str = "", url: str = ""
) -> LeakCounts:
    """Revoke every active credential among ``strings``; idempotent (a second report of the
    same strings counts them as already inactive). Two queries find every credential however
    many strings there are; each revocation then locks its row and writes its audit event."""
    require_server_permission(identity, TOKENS_REPORT_LEAK)
    texts = set(strings)
    digests = {digest for text in texts if (digest := digest_of(text)) is not None}
    now = timezone.now()
    actor = Actor.of(identity)
    revoked: dict[Organization, list[Revoked]] = defaultdict(list)
    inactive = 0
    with transaction.atomic():
        tokens = _locked(
            ServiceAccountToken.objects.filter(digest__in=digests).select_related(
                "service_account__org"
            )
        )
        # A migrated key's digest is its token's, found above; only unmigrated keys remain.
        keys = _locked(
            ApiKey.objects.filter(digest__in=digests - {token.digest for token in tokens})
            .unmigrated()
            .select_related("org")
        )
        # Each revocation's event adds to its org's audit tally, locking that row: taking
        # them in org order, whatever the credentials' order, two reports touching the same
        # orgs never wait for each other in a circle.
        for credential in sorted([*tokens, *keys], key=_org_id):
            if credential.is_revoked or credential.is_expired(now):
                inactive += 1
                continue
            org = _revoke(credential, now, actor=actor, source=source, url=url)
            revoked[org].append(_described(credential))
        for org, items in revoked.items():
            transaction.on_commit(partial(_tell_admins, org, items, source, url))
    found = len(tokens) + len(keys)
    count = sum(len(items) for items in revoked.values())
    return LeakCounts(len(texts), count, inactive, len(texts) - found)


def _org_id(credential: ServiceAccountToken | ApiKey) -> int:
    if isinstance(credential, ServiceAccountToken):
        return credential.service_account.org_id
    return credential.org_id


def _locked(rows: models.QuerySet) -> list:
    return list(rows.select_for_update(of=("self",)).order_by("pk"))


def _revoke(
    credential: ServiceAccountToken | ApiKey, now: datetime, *, actor: Actor, source: str, url: str
) -> Organization:
    credential.is_revoked = True
    fields = ["is_revoked"]
    details: dict[str, object] = {"source": source, "url": url}
    if isinstance(credential, ServiceAccountToken):
        credential.revoked_at = now
        fields.append("revoked_at")
        account = credential.service_account
        org = account.org
        details["serviceAccount"] = {"id": account.pk, "name": account.name}
        action = "token.leak-report"
    else:
        org = credential.org
        action = "apikey.leak-report"
    details["expiration"] = isoformat(credential.expires_at)
    credential.save(update_fields=fields)
    record(action, actor=actor, org=org, target=credential, details=details)
    return org


def _described(credential: ServiceAccountToken | ApiKey) -> Revoked:
    if isinstance(credential, ServiceAccountToken):
        return Revoked("token", credential.name, credential.service_account.name)
    return Revoked("API key", credential.name, "")


def _tell_admins(org: Organization, items: list[Revoked], source: str, url: str) -> None:
    """E-mail the org's Admins, after the revocation committed; a mail that cannot be sent is
    logged and never undoes the revocation."""
    recipients = admin_addresses(org)
    if not recipients:
        logger.warning("leaked credentials of org %s revoked; no Admin has an e-mail", org.pk)
        return
    try:
        leak_report(org=org, revoked=items, source=source, url=url, recipients=recipients).send()
    except Exception:  # SMTP and socket errors alike
        logger.exception("could not e-mail org %s about revoked leaked credentials", org.pk)
