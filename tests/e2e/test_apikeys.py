"""Configuration → API keys in a real browser, as an Admin: creating keys (one-time reveal,
copy to clipboard), deleting and migrating single keys, the "Migrate to service accounts now"
wizard in a modal dialog, hiding the page for good, and the same as plain pages with
JavaScript disabled."""

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from apikeys.models import ApiKey
from apikeys.services import api_key_create
from tests.helpers import call_api, log_in

WARNING = "You will only be able to view this key here once!"
MIGRATED = "API keys were migrated to service accounts"
HIDDEN = "The API keys page is hidden. Use service accounts from now on."
CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


def open_api_keys_from_the_sidebar(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.wait_for_url("**/org/apikeys")
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()


def key_rows(page: Page) -> Locator:
    return page.locator("#apikeys-content table tbody tr")


def fill_in_the_form(page: Page, name: str, role: str, ttl: str = "1d") -> None:
    form = page.locator("#apikey-new")
    expect(form.get_by_role("heading", name="New API key")).to_be_visible()
    form.get_by_label("Key name").fill(name)
    form.get_by_label("Role", exact=True).select_option(role)
    form.get_by_label("Time to live").fill(ttl)
    form.get_by_role("button", name="Add").click()


def create_through_the_form(page: Page, name: str, role: str, ttl: str = "1d") -> str:
    """Fill in "New API key", add it, and return the revealed key."""
    fill_in_the_form(page, name, role, ttl)
    reveal = page.locator("#apikey-new")
    expect(reveal.get_by_role("heading", name="API key created")).to_be_visible()
    expect(reveal.get_by_text(WARNING)).to_be_visible()
    key_input = reveal.get_by_label("Key", exact=True)
    expect(key_input).to_have_attribute("readonly", "")
    secret = key_input.input_value()
    assert secret
    expect(reveal.locator("pre code")).to_contain_text('"Authorization: Bearer <key>"')
    expect(reveal.locator("pre code")).to_contain_text("/api/org")
    return secret


@pytest.mark.parametrize("context_options", [CLIPBOARD], ids=["clipboard"])
def test_admin_creates_keys_migrates_them_and_hides_the_page(page: Page, live_server, admin):
    log_in(page, "alice")
    open_api_keys_from_the_sidebar(page)
    expect(page.get_by_text("No API keys (expired keys are hidden).")).to_be_visible()

    # 1. Create two keys; copy the first one to the clipboard, then it is gone for good.
    secret = create_through_the_form(page, "Deploy bot", "Editor")
    # The table refreshes on apiKeysChanged while the reveal stays on screen.
    expect(key_rows(page)).to_have_count(1)
    page.get_by_role("button", name="Copy to clipboard", exact=True).click()
    expect(page.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.get_by_label("Key", exact=True)).to_have_value(secret)
    page.get_by_role("link", name="Done", exact=True).click()
    page.wait_for_url("**/org/apikeys")
    expect(page.get_by_text(WARNING)).to_have_count(0)
    expect(key_rows(page)).to_have_count(1)

    fill_in_the_form(page, "Metrics reader", "Viewer", ttl="2w")
    expect(key_rows(page)).to_have_count(2)
    page.reload()
    assert secret not in page.content()
    rows = key_rows(page)
    expect(rows).to_have_count(2)
    expect(rows.nth(0).get_by_role("cell").nth(0)).to_have_text("Deploy bot")
    expect(rows.nth(0).get_by_role("cell").nth(1)).to_have_text("Editor")
    expect(rows.nth(1).get_by_role("cell").nth(0)).to_have_text("Metrics reader")
    expect(rows.nth(1).get_by_role("cell").nth(1)).to_have_text("Viewer")

    # 2. The wizard: a modal dialog previews the plan, then shows the summary.
    page.get_by_role("link", name="Migrate to service accounts now").click()
    dialog = page.locator("dialog#migrate-dialog")
    expect(page.get_by_role("dialog", name="Migrate API keys to service accounts")).to_be_visible()
    assert dialog.evaluate("dialog => dialog.open && dialog.matches(':modal')")
    plan = dialog.locator("tbody tr")
    expect(plan).to_have_count(2)
    expect(plan.nth(0)).to_have_text("Deploy botsa-autogen-Deploy botEditor")
    expect(plan.nth(1)).to_have_text("Metrics readersa-autogen-Metrics readerViewer")
    dialog.get_by_role("button", name="Yes, migrate now").click()
    expect(dialog.get_by_role("heading", name="Migration summary")).to_be_visible()
    for term, count in [("Total", "2"), ("Migrated", "2"), ("Failed", "0")]:
        expect(dialog.locator(f"dt:text-is('{term}') + dd")).to_have_text(count)
    dialog.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/org/apikeys")
    expect(page.get_by_role("heading", name=MIGRATED)).to_be_visible()
    expect(page.get_by_text("No API keys left: they are service accounts now.")).to_be_visible()
    account = ServiceAccount.objects.get(name="sa-autogen-Deploy bot")
    assert account.role == Role.EDITOR
    assert ServiceAccount.objects.get(name="sa-autogen-Metrics reader").role == Role.VIEWER
    expect(page.get_by_role("link", name="sa-autogen-Metrics reader")).to_be_visible()

    # The copied key still works, now as the token of its service account.
    status, body = call_api(live_server.url, secret)
    assert status == 200
    assert body["id"] == admin.current_org.pk
    assert body["name"] == "Acme"
    page.get_by_role("link", name="sa-autogen-Deploy bot").click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    expect(page.get_by_role("heading", level=1)).to_have_text("sa-autogen-Deploy bot")
    expect(
        page.locator("#tokens tbody tr").get_by_role("cell", name="Deploy bot", exact=True)
    ).to_be_visible()

    # 3. Hide the page for good, confirmed in a dialog: back to service accounts.
    page.go_back()
    page.wait_for_url("**/org/apikeys")
    page.get_by_role("link", name="Hide API keys page forever").click()
    dialog = page.get_by_role("dialog", name="Hide API keys page forever")
    expect(dialog.get_by_text("Hide the API keys page for everyone")).to_be_visible()
    dialog.get_by_role("button", name="Hide API keys page forever").click()
    page.wait_for_url("**/org/serviceaccounts")
    expect(page.get_by_role("heading", name="Service accounts", level=1)).to_be_visible()
    expect(page.get_by_text(HIDDEN)).to_be_visible()
    sidebar = page.get_by_role("navigation", name="Main")
    expect(sidebar.get_by_role("link", name="Service accounts")).to_be_visible()
    expect(sidebar.get_by_role("link", name="API keys")).to_have_count(0)
    page.goto("/org/apikeys")
    page.wait_for_url("**/org/serviceaccounts")


def open_with_two_keys(page: Page, org, admin) -> None:
    """Alice's API keys page, listing "Deploy bot" (Editor) and "Metrics reader" (Viewer)."""
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)
    for name, role in [("Deploy bot", Role.EDITOR), ("Metrics reader", Role.VIEWER)]:
        api_key_create(identity=identity, name=name, role=role, seconds_to_live=86400)
    log_in(page, "alice")
    open_api_keys_from_the_sidebar(page)
    expect(key_rows(page)).to_have_count(2)


def test_deleting_and_migrating_one_key_through_dialogs(page: Page, org, admin):
    open_with_two_keys(page, org, admin)

    page.get_by_role("link", name="Delete Deploy bot").click()
    dialog = page.get_by_role("dialog", name="Delete API key")
    expect(dialog.get_by_text("delete the API key 'Deploy bot'?")).to_be_visible()
    dialog.get_by_role("button", name="Delete API key").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("status").get_by_text("API key 'Deploy bot' deleted.")).to_be_visible()
    expect(key_rows(page)).to_have_count(1)

    page.get_by_role("link", name="Migrate to service account", exact=True).click()
    dialog = page.get_by_role("dialog", name="Migrate to service account")
    expect(dialog.get_by_text("Migrate the API key 'Metrics reader'")).to_be_visible()
    dialog.get_by_role("button", name="Migrate to service account").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("is now service account 'sa-autogen-Metrics reader'")).to_be_visible()
    expect(page.get_by_text("No API keys (expired keys are hidden).")).to_be_visible()
    assert ServiceAccount.objects.filter(name="sa-autogen-Metrics reader").exists()
    assert not ApiKey.objects.filter(org=org, migrated_at__isnull=True).exists()


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-js"])
def test_deleting_and_migrating_one_key_without_javascript(page: Page, org, admin):
    open_with_two_keys(page, org, admin)

    page.get_by_role("link", name="Delete Deploy bot").click()
    page.wait_for_url("**/org/apikeys/*/delete")
    expect(page).to_have_title("Delete API key · Keyhouse")
    expect(page.get_by_text("delete the API key 'Deploy bot'?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url("**/org/apikeys")
    expect(key_rows(page)).to_have_count(2)
    page.get_by_role("link", name="Delete Deploy bot").click()
    page.get_by_role("button", name="Delete API key").click()
    page.wait_for_url("**/org/apikeys")
    expect(page.get_by_text("API key 'Deploy bot' deleted.")).to_be_visible()
    expect(key_rows(page)).to_have_count(1)

    page.get_by_role("link", name="Migrate to service account", exact=True).click()
    page.wait_for_url("**/org/apikeys/*/migrate")
    expect(page.get_by_role("heading", name="Migrate to service account")).to_be_visible()
    page.get_by_role("button", name="Migrate to service account").click()
    page.wait_for_url("**/org/apikeys")
    expect(page.get_by_text("is now service account 'sa-autogen-Metrics reader'")).to_be_visible()
    assert not ApiKey.objects.filter(org=org, migrated_at__isnull=True).exists()


def test_the_one_time_reveal_survives_the_table_refresh(page: Page, admin):
    log_in(page, "alice")
    page.goto("/org/apikeys")
    page.get_by_label("Key name").fill("Deploy bot")
    page.get_by_role("button", name="Add").click()
    expect(key_rows(page)).to_have_count(1)
    expect(page.get_by_text(WARNING)).to_be_visible()
    expect(page.get_by_label("Key", exact=True)).not_to_have_value("")


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-js"])
def test_the_wizard_works_without_javascript(page: Page, org, admin):
    open_with_two_keys(page, org, admin)

    # A full confirmation page previews the plan.
    page.get_by_role("link", name="Migrate to service accounts now").click()
    page.wait_for_url("**/org/apikeys/migrate")
    expect(page.get_by_role("heading", name="Migrate API keys to service accounts")).to_be_visible()
    plan = page.locator("#migrate-dialog-body tbody tr")
    expect(plan).to_have_count(2)
    expect(plan.nth(0)).to_have_text("Deploy botsa-autogen-Deploy botEditor")
    expect(plan.nth(1)).to_have_text("Metrics readersa-autogen-Metrics readerViewer")
    expect(page.get_by_role("link", name="Cancel", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_hidden()

    # Migrating answers with the summary page.
    page.get_by_role("button", name="Yes, migrate now").click()
    expect(page.get_by_role("heading", name="Migration summary")).to_be_visible()
    for term, count in [("Total", "2"), ("Migrated", "2"), ("Failed", "0")]:
        expect(page.locator(f"dt:text-is('{term}') + dd")).to_have_text(count)
    assert not ApiKey.objects.filter(org=org, migrated_at__isnull=True).exists()

    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/org/apikeys")
    expect(page.get_by_role("heading", name=MIGRATED)).to_be_visible()
    expect(page.get_by_role("link", name="sa-autogen-Deploy bot")).to_be_visible()
    expect(page.get_by_role("link", name="sa-autogen-Metrics reader")).to_be_visible()

    # Hiding goes through a confirmation page; its Cancel leads back.
    page.get_by_role("link", name="Hide API keys page forever").click()
    page.wait_for_url("**/org/apikeys/hide")
    expect(page.get_by_role("heading", name="Hide API keys page forever")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url("**/org/apikeys")
    page.get_by_role("link", name="Hide API keys page forever").click()
    page.get_by_role("button", name="Hide API keys page forever").click()
    page.wait_for_url("**/org/serviceaccounts")
    expect(page.get_by_text(HIDDEN)).to_be_visible()
    sidebar = page.get_by_role("navigation", name="Main")
    expect(sidebar.get_by_role("link", name="API keys")).to_have_count(0)
    org.refresh_from_db()
    assert org.api_keys_hidden
