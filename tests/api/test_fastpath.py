"""config.api_fastpath: the short way through Django for hot API requests answers exactly what
Django's full handler answers (status, every header, body, log lines, database writes), and
takes the short way only for the requests it is meant for.

Each request goes once through ``FastPathHandler`` (what ``config.wsgi`` serves to gunicorn)
and once through Django's plain ``WSGIHandler``, each inside a savepoint rolled back afterwards, so
both start from the same database.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core import signals
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.utils import timezone

from accounts.audit.models import AuditEvent
from accounts.models import ServiceAccount
from apikeys.models import ApiKey
from config.api_fastpath import FastPathHandler
from tests.helpers import PASSWORD, grant
from tokens.models import ServiceAccountToken
from tokens.services import token_create

pytestmark = pytest.mark.django_db

ORG = "/api/org"
VERIFY = "/api/auth/verify"
HOST = "testserver"


@dataclass(frozen=True)
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    logs: list[tuple[str, str, str]]
    effects: dict[str, Any]
    full_chain_calls: int


@pytest.fixture(autouse=True)
def _connections_kept_open() -> Iterator[None]:
    """As Django's test client does: the end of a request would close the connection that
    holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def secrets(org, other_org, org_admin, make_account, make_key) -> dict[str, str]:
    robot = make_account("robot")
    grant(robot, "metrics:ingest")
    _, token = token_create(identity=org_admin, account=robot, name="t", expires_at=None)
    expired, expired_secret = token_create(
        identity=org_admin, account=robot, name="e", expires_at=None
    )
    ServiceAccountToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    revoked, revoked_secret = token_create(
        identity=org_admin, account=robot, name="r", expires_at=None
    )
    ServiceAccountToken.objects.filter(pk=revoked.pk).update(is_revoked=True)
    idle = make_account("idle")
    _, disabled_secret = token_create(identity=org_admin, account=idle, name="d", expires_at=None)
    ServiceAccount.objects.filter(pk=idle.pk).update(is_disabled=True)
    _, key = make_key("legacy")
    return {
        "token": token,
        "expired": expired_secret,
        "revoked": revoked_secret,
        "disabled": disabled_secret,
        "key": key,
        "org": str(org.pk),
        "other_org": str(other_org.pk),
    }


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def effects(since: int) -> dict[str, Any]:
    """What a request wrote: last use of every token and key, and new audit events."""
    return {
        "tokens": [
            (token.pk, token.last_used_at is None, token.last_used_ip, token.last_used_user_agent)
            for token in ServiceAccountToken.objects.order_by("pk")
        ],
        "keys": [(key.pk, key.last_used_at is None) for key in ApiKey.objects.order_by("pk")],
        "audit": list(
            AuditEvent.objects.filter(pk__gt=since)
            .order_by("pk")
            .values_list("action", "actor_type", "actor_id", "target_id", "details", "address")
        ),
    }


def answer(
    app: WSGIHandler,
    caplog: pytest.LogCaptureFixture,
    path: str,
    *,
    method: str = "GET",
    authorization: str | None = None,
    body: bytes = b"",
    **extra: str,
) -> Answer:
    path_info, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_HOST": HOST,
        "HTTP_USER_AGENT": "contract-test",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        **extra,
    }
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    started: list[tuple[str, list[tuple[str, str]]]] = []
    full_chain = app._middleware_chain
    full_calls = []

    def counted(request: Any) -> Any:
        full_calls.append(request)
        return full_chain(request)

    caplog.clear()
    with transaction.atomic():
        since = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        ServiceAccountToken.objects.update(
            last_used_at=None, last_used_ip=None, last_used_user_agent=""
        )
        ApiKey.objects.update(last_used_at=None)
        app._middleware_chain = counted
        try:
            response = app(environ, lambda status, headers: started.append((status, headers)))
            content = b"".join(response)
            response.close()
        finally:
            app._middleware_chain = full_chain
        written = effects(since)
        transaction.set_rollback(True)
    logs = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    ((status, headers),) = started
    # A new CSRF cookie is random, and its expiry date is now's plus a year (the two requests
    # may fall on either side of a second): only these may differ.
    for pattern, mask in ((r"csrftoken=\w+", "csrftoken=…"), (r"expires=[^;]+", "expires=…")):
        headers = [(name, re.sub(pattern, mask, value)) for name, value in headers]
    return Answer(status, headers, content, logs, written, len(full_calls))


@pytest.fixture
def both(caplog, secrets) -> Callable[..., Answer]:
    """Send one request both ways; assert the answers are the same; return the fast one."""
    fast_handler, django_handler = FastPathHandler(), WSGIHandler()

    def send(path: str, authorization: str | None = None, **kwargs: Any) -> Answer:
        with caplog.at_level(logging.INFO):
            fast = answer(fast_handler, caplog, path, authorization=authorization, **kwargs)
            full = answer(django_handler, caplog, path, authorization=authorization, **kwargs)
        assert full.full_chain_calls == 1
        assert (fast.status, fast.body) == (full.status, full.body)
        assert fast.headers == full.headers
        assert fast.logs == full.logs
        assert fast.effects == full.effects
        return fast

    return send


FAST_CASES = [
    (ORG, "token", {}),
    (ORG + "?x=1&y", "token", {}),
    (ORG, "basic-token", {}),
    (ORG, "key", {}),
    (ORG, "basic-key", {}),
    (ORG, "password", {}),
    (ORG, "wrong-password", {}),
    (ORG, "garbage", {}),
    (ORG, "odd-scheme", {}),
    (ORG, "expired", {}),
    (ORG, "revoked", {}),
    (ORG, "disabled", {}),
    (ORG, "token", {"HTTP_X_GRAFANA_ORG_ID": "{org}"}),
    (ORG, "token", {"HTTP_X_GRAFANA_ORG_ID": "{other_org}"}),
    (ORG, "token", {"HTTP_X_GRAFANA_ORG_ID": "abc"}),
    (ORG, "password", {"HTTP_X_GRAFANA_ORG_ID": "{other_org}"}),
    (ORG, "token", {"HTTP_HOST": "evil.example"}),
    (ORG, "token", {"HTTP_COOKIE": "csrftoken=not-a-valid-token"}),
    (ORG, "token", {"wsgi.url_scheme": "https"}),
    (ORG, "token", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}),
    (VERIFY, "token", {}),
    (VERIFY + "?permission=metrics:ingest", "token", {}),
    (VERIFY + "?permission=teams:write", "token", {}),
    (VERIFY + "?permission=bad%20name", "token", {}),
    (VERIFY + "?role=Viewer", "token", {}),
    (VERIFY + "?role=Admin", "token", {}),
    (VERIFY + "?role=Boss", "token", {}),
    (VERIFY + "?org={org}", "token", {}),
    (VERIFY + "?org={other_org}", "token", {}),
    (VERIFY + "?org=x", "token", {}),
    (VERIFY, "key", {}),
    (VERIFY, "basic-token", {}),
    (VERIFY, "password", {}),
    (VERIFY, "garbage", {}),
    (VERIFY, "expired", {}),
    (VERIFY, "revoked", {}),
    (VERIFY, "disabled", {}),
    (VERIFY, "token", {"method": "HEAD"}),
    (VERIFY, "token", {"method": "POST", "body": b'{"a": 1}', "CONTENT_TYPE": "application/json"}),
    (VERIFY, "token", {"method": "DELETE"}),
    (VERIFY, "token", {"HTTP_HOST": "evil.example"}),
]


def authorization_for(kind: str, secrets: dict[str, str]) -> str:
    return {
        "token": f"Bearer {secrets['token']}",
        "basic-token": basic("api_key", secrets["token"]),
        "key": f"Bearer {secrets['key']}",
        "basic-key": basic("api_key", secrets["key"]),
        "password": basic("alice", PASSWORD),
        "wrong-password": basic("alice", "not-the-password"),
        "garbage": "Bearer glsa_garbage",
        "odd-scheme": "Digest abc",
        "expired": f"Bearer {secrets['expired']}",
        "revoked": f"Bearer {secrets['revoked']}",
        "disabled": f"Bearer {secrets['disabled']}",
    }[kind]


def filled(value: Any, secrets: dict[str, str]) -> Any:
    return value.format(**secrets) if isinstance(value, str) else value


@pytest.mark.parametrize(("path", "credential", "extra"), FAST_CASES)
def test_the_fast_path_answers_as_django_does(both, secrets, path, credential, extra):
    extra = {name: filled(value, secrets) for name, value in extra.items()}
    fast = both(filled(path, secrets), authorization_for(credential, secrets), **extra)
    assert fast.full_chain_calls == 0, "the request took the fast path"


@pytest.mark.parametrize(
    ("path", "method", "with_credential"),
    [
        (ORG, "GET", False),  # no Authorization header
        (VERIFY, "GET", False),
        (ORG, "POST", True),  # a method the route does not serve
        (ORG, "HEAD", True),
        (ORG + "/", "GET", True),  # another path
        ("/api/serviceaccounts/search", "GET", True),
        ("/api/health", "GET", True),
    ],
)
def test_other_requests_take_djangos_full_path(both, secrets, path, method, with_credential):
    authorization = f"Bearer {secrets['token']}" if with_credential else None
    assert both(path, authorization, method=method).full_chain_calls == 1


def test_a_use_is_recorded_and_answered_alike(both, secrets):
    fast = both(ORG, f"Bearer {secrets['token']}")
    assert fast.status == "200 OK"
    used = [row for row in fast.effects["tokens"] if not row[1]]
    assert [row[2:] for row in used] == [("192.0.2.7", "contract-test")]
    assert ("X-Frame-Options", "DENY") in fast.headers
    assert ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'") in fast.headers


def crash(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("internal detail")


@pytest.mark.parametrize("target", ["accounts.models.Organization.to_api", "tokens.auth._found"])
def test_an_exception_in_the_view_is_a_logged_json_500_either_way(
    both, secrets, monkeypatch, target
):
    monkeypatch.setattr(target, crash)
    fast = both(ORG, f"Bearer {secrets['token']}")
    assert fast.status == "500 Internal Server Error"
    assert fast.body == b'{"message": "Internal server error"}'
    assert ("django.request", "ERROR", "Internal Server Error: /api/org") in fast.logs


def test_gunicorn_is_served_the_fast_path():
    from config import wsgi  # sets Django up again: harmless, and only here

    assert isinstance(wsgi.application, FastPathHandler)


def test_every_middleware_is_run_or_skipped_on_purpose(settings):
    FastPathHandler()
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    with pytest.raises(ImproperlyConfigured, match="MIDDLEWARE"):
        FastPathHandler()


def test_views_wrapped_in_a_transaction_per_request_are_not_served_the_fast_path(
    settings, monkeypatch
):
    monkeypatch.setitem(settings.DATABASES["default"], "ATOMIC_REQUESTS", True)
    with pytest.raises(ImproperlyConfigured, match="ATOMIC_REQUESTS"):
        FastPathHandler()
