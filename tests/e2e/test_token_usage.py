"""The "Use this account's tokens" panel in a real browser: its verify URL and nginx snippet
copied to the clipboard (the copied URL lets the account's token through), checked by axe; and
without JavaScript, where the copy buttons stay hidden and the text stays selectable."""

import http.client
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from accounts.models import ServiceAccount
from accounts.teams.services import (
    permission_create,
    service_account_permissions_set,
)
from tests.e2e.axe import assert_accessible
from tests.helpers import log_in
from tokens.services import token_create

CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


@pytest.fixture
def account(make_account, org_admin) -> ServiceAccount:
    account = make_account("ingester")
    permission_create(identity=org_admin, name="metrics:ingest")
    service_account_permissions_set(
        identity=org_admin, account=account, permissions=["metrics:ingest"]
    )
    return account


def verify(url: str, secret: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request(
            "GET", f"{parts.path}?{parts.query}", headers={"Authorization": f"Bearer {secret}"}
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("context_options", [CLIPBOARD], ids=["clipboard"])
def test_copy_the_verify_url_and_the_nginx_snippet(page: Page, account, org, org_admin):
    log_in(page, "alice")
    page.goto(f"/org/serviceaccounts/{account.pk}")
    panel = page.locator("#sa-usage")
    expect(panel.get_by_role("heading", name="Use this account's tokens")).to_be_visible()
    assert_accessible(page, "the service account page with its token usage panel")

    panel.get_by_role("button", name="Copy verify URL").click()
    expect(panel.get_by_role("button", name="Copied")).to_have_count(1)
    url = page.evaluate("navigator.clipboard.readText()")
    assert url == panel.get_by_label("Verify URL").input_value()
    assert url.endswith(f"/api/auth/verify?org={org.pk}&permission=metrics:ingest")
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    assert verify(url, secret) == 200
    assert verify(url, "glsa_not_a_token") == 401

    panel.get_by_role("button", name="Copy nginx configuration").click()
    expect(panel.get_by_role("button", name="Copied")).to_have_count(2)
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert snippet == panel.get_by_label("nginx configuration").input_value()
    assert f"auth/verify?org={org.pk}&permission=metrics:ingest;" in snippet
    assert "auth_request /_keyhouse;" in snippet


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-js"])
def test_without_javascript_the_text_is_there_to_select(page: Page, account, org):
    log_in(page, "alice")
    page.goto(f"/org/serviceaccounts/{account.pk}")
    panel = page.locator("#sa-usage")
    expect(panel.get_by_label("Verify URL")).to_have_value(
        f"{page.url.split('/org/')[0]}/api/auth/verify?org={org.pk}&permission=metrics:ingest"
    )
    expect(panel.get_by_label("nginx configuration")).to_contain_text("auth_request /_keyhouse;")
    expect(panel.get_by_role("button", name="Copy verify URL")).to_be_hidden()


def test_the_panel_is_accessible_without_our_scripts(page: Page, account):
    page.route("**/*.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    log_in(page, "alice")
    page.goto(f"/org/serviceaccounts/{account.pk}")
    expect(page.locator("#sa-usage").get_by_label("Verify URL")).to_be_visible()
    assert_accessible(page, "the token usage panel without our scripts")
