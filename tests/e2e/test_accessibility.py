"""Every page and dialog passes axe-core without a serious or critical violation: sign-in,
service accounts (list, create, detail, inline rename), the token dialog and its reveal, the
token lifecycle (rotate, its reveal, revoke, inline token rename, Expiring soon), API
keys (list and reveal), each step of the migration wizard, the profile, the logout page, the
confirmation pages used without JavaScript and the error pages, in their error states too."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.access import Identity
from accounts.roles import Role
from accounts.services import service_account_create
from apikeys.models import ApiKey
from apikeys.services import api_key_create
from tests.e2e.axe import assert_accessible
from tests.helpers import PASSWORD, log_in
from tokens.models import ServiceAccountToken
from tokens.services import token_create


@pytest.fixture
def identity(org, admin) -> Identity:
    return Identity(kind="user", org=org, role=Role.ADMIN, user=admin)


def test_sign_in_profile_and_logout_pages(page: Page, admin):
    page.goto("/login")
    assert_accessible(page, "the login page")
    page.get_by_label("Email or username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "the login page with an error")

    log_in(page, "alice")
    page.get_by_text("alice").first.click()  # the open user menu
    expect(page.get_by_role("link", name="Profile")).to_be_visible()
    assert_accessible(page, "the user menu")
    page.get_by_role("link", name="Profile").click()
    page.wait_for_url("**/profile")
    assert_accessible(page, "the profile page")
    new_password = page.get_by_label("New password", exact=True)
    expect(new_password).to_have_accessible_description(re.compile(r"can.t be too similar"))
    page.get_by_label("Old password").fill("nope")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your old password was entered incorrectly")).to_be_visible()
    assert_accessible(page, "the profile page with errors")

    page.goto("/logout")
    assert_accessible(page, "the logout page")


def test_service_account_pages_and_the_token_dialog(page: Page, identity):
    log_in(page, "alice")
    expect(page.get_by_text("You haven't created any service accounts yet")).to_be_visible()
    assert_accessible(page, "the empty service accounts list")

    page.get_by_role("link", name="Add service account", exact=True).first.click()
    expect(page.get_by_role("heading", name="Create service account")).to_be_visible()
    assert_accessible(page, "the create page")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".field-error, [role=alert]").first).to_be_visible()
    assert_accessible(page, "the create page with an error")

    account = service_account_create(identity=identity, name="CI deployer", role=Role.EDITOR)
    service_account_create(identity=identity, name="Backups", is_disabled=True)
    token_create(identity=identity, account=account, name="Existing", expires_at=None)
    page.goto("/org/serviceaccounts")
    expect(page.locator("#sa-results tbody tr")).to_have_count(2)
    assert_accessible(page, "the service accounts list")

    page.goto(f"/org/serviceaccounts/{account.pk}")
    expect(page.get_by_role("heading", level=1)).to_have_text("CI deployer")
    assert_accessible(page, "a service account's page")
    page.locator("#sa-name").get_by_role("link", name="Edit").click()
    expect(page.locator("#sa-name").get_by_label("Name")).to_be_visible()
    assert_accessible(page, "a service account's page while renaming")

    page.get_by_role("link", name="Add service account token", exact=True).click()
    dialog = page.locator("dialog#token-dialog")
    expect(dialog).to_have_attribute("open", "")
    assert_accessible(page, "the token dialog")
    dialog.get_by_label("Display name").fill("existing")
    dialog.get_by_role("button", name="Generate token").click()
    expect(dialog.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "the token dialog with an error")
    dialog.get_by_label("Display name").fill("Deploy pipeline")
    dialog.get_by_role("button", name="Generate token").click()
    expect(dialog.get_by_role("heading", name="Service account token created")).to_be_visible()
    assert_accessible(page, "the token reveal")
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.locator("#sa-header").get_by_role("link", name="Disable service account").click()
    expect(page.get_by_role("dialog", name="Disable service account")).to_be_visible()
    assert_accessible(page, "a confirmation dialog")
    page.get_by_role("dialog").get_by_role("button", name="Disable service account").click()
    expect(page.locator("#sa-header").get_by_text("Disabled", exact=True)).to_be_visible()
    assert_accessible(page, "a disabled service account's page")


def test_token_lifecycle_dialogs_and_the_expiring_soon_view(page: Page, identity):
    account = service_account_create(identity=identity, name="CI deployer", role=Role.EDITOR)
    soon = timezone.now() + timedelta(days=3)
    token_create(identity=identity, account=account, name="taken", expires_at=soon)
    token_create(identity=identity, account=account, name="deploy", expires_at=None)
    ServiceAccountToken.objects.filter(name="taken").update(
        last_used_at=timezone.now(), last_used_ip="203.0.113.9", last_used_user_agent="curl/8.5"
    )
    log_in(page, "alice")
    page.goto("/org/serviceaccounts?filter=expiring")
    expect(page.get_by_role("region", name="Never expire")).to_be_visible()
    assert_accessible(page, "the Expiring soon view with the Never expire list and nav count")

    page.goto(f"/org/serviceaccounts/{account.pk}")
    page.get_by_role("link", name="Rename token deploy").click()
    field = page.get_by_role("textbox", name="Token name")
    field.fill("taken")
    field.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "the inline token rename with an error")
    page.get_by_role("link", name="Cancel").click()

    page.get_by_role("link", name="Rotate token deploy").click()
    dialog = page.locator("dialog#token-dialog")
    expect(dialog).to_have_attribute("open", "")
    assert_accessible(page, "the rotate dialog")
    dialog.get_by_role("button", name="Rotate token").click()
    expect(dialog.get_by_role("heading", name="Service account token created")).to_be_visible()
    assert_accessible(page, "the rotation's reveal")
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("Rotated", exact=True)).to_be_visible()
    assert_accessible(page, "the tokens table with a rotated token")

    page.get_by_role("link", name="Revoke token taken").click()
    expect(page.get_by_role("dialog", name="Revoke service account token")).to_be_visible()
    assert_accessible(page, "the revoke confirmation")
    page.get_by_role("dialog").get_by_role("button", name="Revoke service account token").click()
    expect(page.get_by_text("Revoked", exact=True)).to_be_visible()
    assert_accessible(page, "the tokens table with a revoked token")


def test_api_keys_and_every_step_of_the_migration_wizard(page: Page, identity):
    api_key_create(identity=identity, name="Deploy bot", role=Role.EDITOR, seconds_to_live=3600)
    expired, _ = api_key_create(identity=identity, name="Old", role=Role.VIEWER, seconds_to_live=1)
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    log_in(page, "alice")
    page.goto("/org/apikeys")
    assert_accessible(page, "the API keys page")
    page.get_by_label("Key name").fill("Metrics reader")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", name="API key created")).to_be_visible()
    assert_accessible(page, "the API key reveal")

    page.get_by_role("link", name="Migrate to service accounts now").click()
    dialog = page.locator("dialog#migrate-dialog")
    expect(dialog).to_have_attribute("open", "")
    expect(dialog).to_contain_text(
        "3 API keys will become service accounts (1 of them has expired)."
    )
    assert_accessible(page, "the migration plan")
    dialog.get_by_role("button", name="Yes, migrate now").click()
    expect(dialog.get_by_role("heading", name="Migration summary")).to_be_visible()
    assert_accessible(page, "the migration summary")
    dialog.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="API keys were migrated")).to_be_visible()
    assert_accessible(page, "the migrated card")
    page.get_by_role("link", name="Hide API keys page forever").click()
    expect(page.get_by_role("dialog", name="Hide API keys page forever")).to_be_visible()
    assert_accessible(page, "the hide confirmation dialog")
    page.get_by_role("dialog").get_by_role("button", name="Hide API keys page forever").click()
    page.wait_for_url("**/org/serviceaccounts")
    expect(page.get_by_role("status").get_by_text("The API keys page is hidden")).to_be_visible()
    assert_accessible(page, "the service accounts list with a message")


def expected_error_status(page_problems, status: int) -> None:
    """Chromium logs a console error for every error status; here the status is the point."""
    page_problems[:] = [p for p in page_problems if f"status of {status}" not in p]


# Playwright cannot evaluate anything in a page with JavaScript disabled, so "without
# JavaScript" here means our scripts (htmx and keyhouse.js) are served empty.
@pytest.mark.parametrize("scripts", ["with", "without"])
def test_full_pages_with_and_without_our_scripts(page: Page, identity, page_problems, scripts):
    if scripts == "without":
        page.route("**/*.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    account = service_account_create(identity=identity, name="CI deployer")
    token, _ = token_create(identity=identity, account=account, name="ci", expires_at=None)
    api_key_create(identity=identity, name="Deploy bot", role=Role.EDITOR, seconds_to_live=3600)
    log_in(page, "alice")
    token_url = f"/org/serviceaccounts/{account.pk}/tokens/{token.pk}"
    for url, what in [
        (f"/org/serviceaccounts/{account.pk}/delete", "the delete confirmation page"),
        (f"/org/serviceaccounts/{account.pk}/tokens/new", "the add token page"),
        (f"{token_url}/rotate", "the rotate token page"),
        (f"{token_url}/revoke", "the revoke confirmation page"),
        (f"{token_url}/name", "the rename token page"),
        ("/org/apikeys/migrate", "the migration plan page"),
        ("/org/apikeys/hide", "the hide confirmation page"),
        ("/org/serviceaccounts/999999", "the not found page"),
    ]:
        page.goto(url)
        assert_accessible(page, f"{what} ({scripts} scripts)")
    expected_error_status(page_problems, 404)


def test_the_access_denied_page(page: Page, viewer, page_problems):
    page.goto("/login")
    page.get_by_label("Email or username").fill("vera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/profile")
    page.goto("/org/serviceaccounts")
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    assert_accessible(page, "the access denied page")
    expected_error_status(page_problems, 403)
