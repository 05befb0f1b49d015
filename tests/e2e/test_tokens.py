"""Service account tokens in a real browser, as an Admin: the "Add service account token"
dialog (htmx-loaded modal, copy to clipboard, one-time reveal), the same flow as plain pages
with JavaScript disabled, and adding a first token from a row of the list."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_create
from tests.helpers import call_api, log_in
from tokens.format import digest
from tokens.models import ServiceAccountToken
from tokens.services import token_create

WARNING = "Copy the token now as you will not be able to see it again."
CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


@pytest.fixture
def make_account(org, admin):
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)

    def make(name: str) -> ServiceAccount:
        return service_account_create(identity=identity, name=name, role=Role.EDITOR)

    return make


@pytest.fixture
def account(make_account) -> ServiceAccount:
    return make_account("CI deployer")


def open_account(page: Page, account: ServiceAccount) -> None:
    log_in(page, "alice")
    page.goto(f"/org/serviceaccounts/{account.pk}")
    expect(page.get_by_role("heading", level=1)).to_have_text(account.name)


def token_dialog(page: Page) -> Locator:
    return page.locator("dialog#token-dialog")


def open_dialog(page: Page, link: Locator | None = None) -> Locator:
    if link is None:
        link = page.get_by_role("link", name="Add service account token", exact=True)
    link.click()
    dialog = token_dialog(page)
    expect(dialog).to_have_attribute("open", "")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Add service account token")).to_be_visible()
    return dialog


def generate(scope: Locator | Page, name: str, expires_on: str | None = None) -> str:
    """Fill in the form, generate, and return the revealed secret."""
    scope.get_by_label("Display name").fill(name)
    if expires_on is None:
        scope.get_by_label("No expiration").check()
    else:
        scope.get_by_label("Set expiration date").check()
        scope.get_by_label("Expiration date", exact=True).fill(expires_on)
    scope.get_by_role("button", name="Generate token").click()
    expect(scope.get_by_role("heading", name="Service account token created")).to_be_visible()
    expect(scope.get_by_text(WARNING)).to_be_visible()
    secret_input = scope.get_by_label("Token", exact=True)
    expect(secret_input).to_have_attribute("readonly", "")
    secret = secret_input.input_value()
    assert re.fullmatch(r"glsa_\w+_\w+", secret)
    assert ServiceAccountToken.objects.get(digest=digest(secret)).name == name
    return secret


def token_row(page: Page, name: str) -> Locator:
    return page.locator("#tokens tbody tr").filter(has=page.get_by_role("cell", name=name))


def expiry_cell(row: Locator) -> Locator:
    return row.get_by_role("cell").nth(1)


def last_used_cell(row: Locator) -> Locator:
    return row.get_by_role("cell").nth(3)


@pytest.mark.parametrize("context_options", [CLIPBOARD], ids=["clipboard"])
def test_admin_adds_a_token_copies_it_and_uses_it(page: Page, live_server, org, account):
    open_account(page, account)
    expect(page.get_by_text("No tokens yet.")).to_be_visible()

    dialog = open_dialog(page)
    expect(dialog.get_by_label("Display name")).to_have_value(f"{account.login}-token-1")

    secret = generate(dialog, "Deploy pipeline")

    # Copy to clipboard: exactly the token, and the button says so.
    dialog.get_by_role("button", name="Copy to clipboard", exact=True).click()
    expect(dialog.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # Close removes the dialog; the table was refreshed through tokensChanged.
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(token_dialog(page)).to_have_count(0)
    row = token_row(page, "Deploy pipeline")
    expect(expiry_cell(row)).to_have_text("Never")
    expect(last_used_cell(row)).to_have_text("Never")
    expect(page.get_by_text("No tokens yet.")).to_have_count(0)

    page.reload()
    expect(row).to_be_visible()
    assert secret not in page.content()

    # The copied token works against the API, and the page then shows when it was used.
    status, body = call_api(live_server.url, page.evaluate("navigator.clipboard.readText()"))
    assert status == 200
    assert body["id"] == org.pk
    assert body["name"] == org.name
    page.reload()
    expect(last_used_cell(row).locator("time")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
    )
    expect(last_used_cell(row)).not_to_have_text("Never")


def test_the_dialog_takes_focus_and_is_named_by_its_title(page: Page, account):
    open_account(page, account)
    dialog = open_dialog(page)
    expect(dialog.get_by_label("Display name")).to_be_focused()
    assert dialog.evaluate("dialog => dialog.contains(document.activeElement)")
    expect(page.get_by_role("dialog", name="Add service account token")).to_be_visible()


# Plain http has no Clipboard API: pretend the page is not a secure context and record what
# the legacy copy command copies (the selected text of the focused input).
PLAIN_HTTP = """
Object.defineProperty(window, "isSecureContext", {get: () => false});
window.copied = [];
const legacyCopy = document.execCommand.bind(document);
document.execCommand = (command, ...rest) => {
  const input = document.activeElement;
  window.copied.push([command, input.value.slice(input.selectionStart, input.selectionEnd)]);
  return legacyCopy(command, ...rest);
};
"""


def test_copy_falls_back_to_select_and_copy_on_plain_http(page: Page, account):
    page.add_init_script(PLAIN_HTTP)
    open_account(page, account)
    dialog = open_dialog(page)
    secret = generate(dialog, "plain http")
    dialog.get_by_role("button", name="Copy to clipboard", exact=True).click()
    expect(dialog.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    assert page.evaluate("window.copied") == [["copy", secret]]


@pytest.mark.parametrize("context_options", [CLIPBOARD], ids=["clipboard"])
def test_escape_validation_errors_and_copy_and_close(page: Page, account, org_admin):
    token_create(identity=org_admin, account=account, name="Existing", expires_at=None)
    open_account(page, account)

    # Escape closes (and removes) the dialog without creating anything.
    open_dialog(page)
    page.keyboard.press("Escape")
    expect(token_dialog(page)).to_have_count(0)
    assert account.tokens.count() == 1

    # A duplicate name is refused inside the dialog, which stays open.
    dialog = open_dialog(page)
    expect(dialog.get_by_label("Display name")).to_have_value(f"{account.login}-token-2")
    dialog.get_by_label("Display name").fill("existing")
    dialog.get_by_label("No expiration").check()
    dialog.get_by_role("button", name="Generate token").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "A token named 'existing' already exists for this service account."
    )
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Add service account token")).to_be_visible()

    # So is an expiration date left empty.
    dialog.get_by_label("Display name").fill("Nightly backup")
    dialog.get_by_label("Set expiration date").check()
    dialog.get_by_role("button", name="Generate token").click()
    expect(dialog.get_by_role("alert")).to_have_text("Choose the date the token expires on.")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Display name")).to_have_value("Nightly backup")
    assert account.tokens.count() == 1

    # With a date it goes through; "Copy to clipboard and close" copies, then closes.
    expires_on = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    secret = generate(dialog, "Nightly backup", expires_on)
    dialog.get_by_role("button", name="Copy to clipboard and close").click()
    expect(token_dialog(page)).to_have_count(0)
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(expiry_cell(token_row(page, "Nightly backup"))).to_have_text(expires_on)
    expect(page.locator("#tokens tbody tr")).to_have_count(2)


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-js"])
def test_adding_a_token_works_without_javascript(page: Page, live_server, account):
    open_account(page, account)

    page.get_by_role("link", name="Add service account token", exact=True).click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}/tokens/new")
    expect(page).to_have_title("Add service account token · Keyhouse")
    expect(page.get_by_label("Display name")).to_have_value(f"{account.login}-token-1")
    secret = generate(page, "Deploy pipeline")
    # The buttons that need JavaScript stay hidden; a plain link closes.
    expect(page.get_by_role("button", name="Copy to clipboard", exact=True)).to_be_hidden()

    status, _ = call_api(live_server.url, secret)
    assert status == 200

    page.get_by_role("link", name="Close", exact=True).click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    expect(expiry_cell(token_row(page, "Deploy pipeline"))).to_have_text("Never")
    assert secret not in page.content()


@pytest.mark.parametrize("context_options", [CLIPBOARD], ids=["clipboard"])
def test_add_token_from_the_list_updates_the_row(page: Page, account, make_account, org_admin):
    backup = make_account("Grafana backup")
    token_create(identity=org_admin, account=backup, name="Backups", expires_at=None)
    log_in(page, "alice")

    def row(name: str) -> Locator:
        return page.locator("#sa-results tbody tr").filter(
            has=page.get_by_role("link", name=name, exact=True)
        )

    def tokens_cell(name: str) -> Locator:
        return row(name).get_by_role("cell").nth(3)

    expect(tokens_cell("Grafana backup")).to_have_text("1")
    expect(row("Grafana backup").get_by_role("link", name="Add token")).to_have_count(0)
    expect(tokens_cell("CI deployer")).to_have_text("No tokens")

    dialog = open_dialog(page, row("CI deployer").get_by_role("link", name="Add token"))
    expect(dialog.get_by_label("Display name")).to_have_value(f"{account.login}-token-1")
    generate(dialog, "First token")
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_have_count(0)

    expect(tokens_cell("CI deployer")).to_have_text("1")
    expect(row("CI deployer").get_by_role("link", name="Add token")).to_have_count(0)
    assert account.tokens.count() == 1


def test_deleting_a_token_asks_in_a_dialog(page: Page, account, org_admin):
    token_create(identity=org_admin, account=account, name="Old", expires_at=None)
    token_create(identity=org_admin, account=account, name="Kept", expires_at=None)
    open_account(page, account)

    page.get_by_role("link", name="Delete token Old").click()
    dialog = page.get_by_role("dialog", name="Delete service account token")
    expect(dialog.get_by_text("Are you sure you want to delete the token 'Old'?")).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    dialog.get_by_role("button", name="Delete service account token").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(token_row(page, "Old")).to_have_count(0)
    expect(token_row(page, "Kept")).to_be_visible()
    assert list(account.tokens.values_list("name", flat=True)) == ["Kept"]


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-js"])
def test_deleting_a_token_without_javascript(page: Page, account, org_admin):
    token_create(identity=org_admin, account=account, name="Old", expires_at=None)
    open_account(page, account)

    page.get_by_role("link", name="Delete token Old").click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}/tokens/*/delete")
    expect(page).to_have_title("Delete service account token · Keyhouse")
    expect(page.get_by_text("Are you sure you want to delete the token 'Old'?")).to_be_visible()
    page.get_by_role("button", name="Delete service account token").click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    assert not account.tokens.exists()
