"""The API passes by the middleware only pages need (sessions, users, messages) and keeps
every security header pages get."""

import pytest
from django.contrib.messages import get_messages

from tests.helpers import call, signed_in

pytestmark = pytest.mark.django_db

SHARED = ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")
HTTPS_ONLY = ("Strict-Transport-Security",)


@pytest.mark.parametrize("https", [False, True])
def test_api_responses_carry_the_pages_security_headers(client, admin, settings, https):
    settings.SECURE_HSTS_SECONDS = 3600 if https else 0
    page = signed_in(admin).get("/org/serviceaccounts", secure=https)
    assert page.status_code == 200
    expected = {name: page[name] for name in SHARED + (HTTPS_ONLY if https else ())}
    assert expected["X-Frame-Options"] == "DENY"
    assert expected["X-Content-Type-Options"] == "nosniff"
    for method, path in (
        ("GET", "/api/org"),
        ("GET", "/api/health"),
        ("GET", "/api/nowhere"),
        ("DELETE", "/api/org"),
        ("POST", "/api/serviceaccounts"),  # a 400: no name
    ):
        response = call(client, method, path, {} if method == "POST" else None, secure=https)
        assert {name: response.get(name) for name in expected} == expected, (method, path)
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert response["Cache-Control"] == "no-store"


def test_the_api_neither_reads_nor_writes_the_browser_session(admin):
    browser = signed_in(admin)
    response = call(browser, "GET", "/api/org")
    assert response.status_code == 200
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    for name in ("session", "user", "_messages"):
        assert not hasattr(response.wsgi_request, name)
    # Pages still have all of them.
    page = browser.get("/org/serviceaccounts")
    assert page.wsgi_request.user == admin
    assert list(get_messages(page.wsgi_request)) == []
