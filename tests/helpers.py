"""Helpers the tests share. Fixtures live in conftest.py files; plain functions and constants
live here, so a test module imports them from one place."""

from __future__ import annotations

import base64
import html
import http.client
import json
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.http import HttpResponse
from django.test import Client

from accounts.access import Identity
from accounts.audit.services import Actor
from accounts.models import (
    Membership,
    Organization,
    ServiceAccount,
    ServiceAccountPermission,
    Team,
    TeamMember,
    TeamPermission,
    User,
)
from accounts.roles import Role

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct-horse-battery-staple"
SYSTEM = Actor.system("tests")  # the actor of changes a test makes without a request
HTMX = {"HTTP_HX_REQUEST": "true"}
T = TypeVar("T")

# Concurrency tests need real row locks across connections (with transaction=True).
needs_postgresql = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL's row locks across real connections",
)


def in_parallel(count: int, action: Callable[[], T]) -> list[T]:
    """Run ``action`` in ``count`` threads released at the same moment, each on its own
    database connection; their results, or the first exception any of them raised."""
    start = threading.Barrier(count)
    results: list[T] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            start.wait()
            results.append(action())
        except Exception as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


WAIT_SECONDS = 5.0


def until_another_transaction_waits_for_ours() -> None:
    """Poll ``pg_locks`` (live, unlike ``pg_stat_activity`` inside a transaction) until another
    transaction waits for a lock this one holds, or ``WAIT_SECONDS`` passed."""
    deadline = time.monotonic() + WAIT_SECONDS
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted "
                "AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)


def while_held(
    hold: Callable[[], object], act: Callable[[], T], *, then: Callable[[], object] = lambda: None
) -> T:
    """Run ``hold`` in a transaction on another connection and, while that transaction is still
    open, ``act`` here: ``act`` sees what ``hold`` did only if it waits for the lock. Once
    ``act`` waits for it, the transaction runs ``then`` (taking a lock ``act`` may hold: a
    deadlock if they lock in opposite orders) and ends, so ``act`` cannot come too late."""
    ready = threading.Event()
    errors: list[Exception] = []

    def holder() -> None:
        try:
            with transaction.atomic():
                hold()
                ready.set()
                until_another_transaction_waits_for_ours()
                then()
        except Exception as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            ready.set()
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    ready.wait()
    try:
        return act()
    finally:
        thread.join()
        if errors:
            raise errors[0]


def htmx_to(target: str) -> dict[str, str]:
    """Headers of an htmx request that swaps the element with id ``target``."""
    return {**HTMX, "HTTP_HX_TARGET": target}


def htmx_from(page: str) -> dict[str, str]:
    """Headers of an htmx request made from ``page`` (a path on the test server)."""
    return {**HTMX, "HTTP_HX_CURRENT_URL": f"http://testserver{page}"}


def triggered(response: HttpResponse) -> list[str]:
    """The events an htmx response triggers on arrival (its ``HX-Trigger`` header)."""
    header = response.get("HX-Trigger", "")
    if header.startswith("{"):
        return list(json.loads(header))
    return [name.strip() for name in header.split(",") if name.strip()]


def page_text(response: HttpResponse) -> str:
    """The response's HTML with entities decoded, so a test can look for "'Ops' deleted"."""
    return html.unescape(response.content.decode())


def assert_password_rules_describe(page: str, field_id: str) -> None:
    """The page shows Django's password rules as the description of the field ``field_id``.
    Django's help is a list: in a <p> the browser would end the paragraph before it, so the
    field would name an empty one and the list would stand apart."""
    help_id = f"{field_id}_helptext"
    assert f'<div class="help" id="{help_id}"><ul><li>Your password' in page
    assert re.search(rf'<input [^>]*aria-describedby="{help_id}"[^>]*id="{field_id}"', page)


def make_user(username: str, org: Organization | None, role: Role | None, **extra: Any) -> User:
    user = User(username=username, email=f"{username}@example.com", current_org=org, **extra)
    user.set_password(PASSWORD)
    user.save()
    if org is not None and role is not None:
        Membership.objects.create(org=org, user=user, role=role)
    return user


def grant(principal: User | ServiceAccount, *permissions: str, org: Organization | None = None):
    """Test setup, past the services and their ceilings: a user gets ``permissions`` through
    a team of their own; a service account individually."""
    if isinstance(principal, ServiceAccount):
        ServiceAccountPermission.objects.bulk_create(
            ServiceAccountPermission(service_account=principal, permission=name)
            for name in permissions
        )
        return principal
    org = org or principal.current_org
    team, _ = Team.objects.get_or_create(org=org, name=f"{principal.username} team")
    TeamMember.objects.get_or_create(team=team, user=principal)
    TeamPermission.objects.bulk_create(
        TeamPermission(team=team, permission=name) for name in permissions
    )
    return team


def identity_of(principal: User | ServiceAccount, org: Organization | None = None) -> Identity:
    """The Identity a request by this user (in ``org``) or this account's token would get."""
    if isinstance(principal, ServiceAccount):
        return Identity(
            kind="service-account",
            org=principal.org,
            role=Role(principal.role),
            credential_id=principal.pk,
        )
    org = org or principal.current_org
    role = Membership.objects.get(org=org, user=principal).role
    return Identity(kind="user", org=org, role=Role(role), user=principal)


def signed_in(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def basic_auth(username: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {raw}"}


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def basic_api_key(secret: str) -> dict[str, str]:
    """Grafana's other way to send a token: HTTP Basic with the user name ``api_key``."""
    return basic_auth("api_key", secret)


def call(
    client: Client, method: str, url: str, body: Any = None, *, as_user: str = "alice", **headers
) -> HttpResponse:
    """One API request as ``as_user`` (HTTP Basic) with an optional JSON body."""
    kwargs: dict[str, Any] = {**basic_auth(as_user), **headers}
    if body is not None and method.upper() != "GET":
        kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method.lower())(url, **kwargs)


def token_reveal(response: HttpResponse) -> str:
    """The secret a token dialog reveals, once checked to be revealed the one safe way: in
    the answer to the POST itself, never cached, kept out of htmx's history."""
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "Service account token created" in html
    assert "Copy the token now as you will not be able to see it again." in html
    assert 'hx-history="false"' in html
    return revealed_secret(html, "token-secret")


def revealed_secret(html: str, input_id: str) -> str:
    """The value of the read-only input that reveals a new token or key."""
    start = html.index(f'id="{input_id}"')
    value = html[html.index('value="', start) + 7 :]
    return value[: value.index('"')]


def call_api(base_url: str, secret: str) -> tuple[int, dict]:
    """GET /api/org from outside the browser (no session cookie), with only the credential."""
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=10)
    try:
        connection.request("GET", "/api/org", headers={"Authorization": f"Bearer {secret}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def log_in(page: Page, username: str) -> None:
    """Sign in through the login page, as a person would."""
    page.goto("/login")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/org/serviceaccounts")


# What a migration must never leave behind, whatever the point it stopped at (Keyhouse's own
# table names, so the checks also run on another process's database file).
HALF_MIGRATED = {
    "account without its token": """
        SELECT a.id FROM accounts_serviceaccount a WHERE a.login LIKE 'sa-autogen-%'
        AND NOT EXISTS (SELECT 1 FROM tokens_serviceaccounttoken t
                        WHERE t.service_account_id = a.id)""",
    "key marked migrated without its account's token": """
        SELECT k.id FROM apikeys_apikey k WHERE k.migrated_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM tokens_serviceaccounttoken t
                        WHERE t.digest = k.digest
                        AND t.service_account_id = k.service_account_id)""",
    "key linked to an account but not marked migrated": """
        SELECT k.id FROM apikeys_apikey k
        WHERE k.migrated_at IS NULL AND k.service_account_id IS NOT NULL""",
    "unmigrated key whose digest is already a token": """
        SELECT k.id FROM apikeys_apikey k WHERE k.migrated_at IS NULL
        AND EXISTS (SELECT 1 FROM tokens_serviceaccounttoken t WHERE t.digest = k.digest)""",
}


def half_migrated(cursor: Any) -> list[tuple[str, int]]:
    """Every row :data:`HALF_MIGRATED` finds, through any DB-API ``cursor``."""
    found = []
    for what, sql in HALF_MIGRATED.items():
        cursor.execute(sql)
        found += [(what, row[0]) for row in cursor.fetchall()]
    return found
