"""The e-mail that warns an org's Admins of tokens about to expire: plain text, with a short
HTML alternative that says the same."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from accounts.emails import message
from accounts.models import Organization
from tokens.models import ServiceAccountToken


def expiry_digest(
    *,
    org: Organization,
    tokens: Sequence[ServiceAccountToken],
    recipients: Sequence[str],
    now: datetime,
) -> EmailMultiAlternatives:
    """One message naming ``tokens`` (with their accounts loaded), soonest first."""
    context = {
        "org": org,
        "days": settings.KEYHOUSE_EXPIRING_SOON_DAYS,
        "now": now,
        "tokens": [
            {"token": token, "url": _account_url(token.service_account_id)} for token in tokens
        ],
    }
    return message("tokens/email/expiry_digest", context, recipients)


def leak_report(
    *,
    org: Organization,
    revoked: Sequence[Any],
    source: str,
    url: str,
    recipients: Sequence[str],
) -> EmailMultiAlternatives:
    """Tell an org's Admins which of its tokens and keys a leak report revoked (``revoked``:
    items with ``kind``, ``name`` and ``account``), and where they were found."""
    context = {"org": org, "revoked": revoked, "source": source, "url": url}
    return message("tokens/email/leak_report", context, recipients)


def _account_url(account_id: int) -> str:
    """The account's page, absolute when ``KEYHOUSE_PUBLIC_URL`` says where people reach us."""
    path = reverse("serviceaccount", args=[account_id])
    return f"{settings.KEYHOUSE_PUBLIC_URL}{path}" if settings.KEYHOUSE_PUBLIC_URL else ""
