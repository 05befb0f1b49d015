"""Configuration → Service accounts in a real browser, as an Admin: once with htmx (live
search, inline role picker and rename, confirmation dialogs) and once with JavaScript disabled
(plain forms and confirmation pages)."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.serviceaccount_views import PER_PAGE
from accounts.services import service_account_create
from tests.helpers import log_in

DETAIL_BLURB = "Manage settings for an individual service account."


@pytest.fixture
def other_account(admin, org) -> ServiceAccount:
    """A second account, so that searching visibly narrows the list."""
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)
    return service_account_create(identity=identity, name="Grafana backup", role=Role.VIEWER)


def confirmation(page: Page, title: str, question: str) -> Locator:
    """The modal confirmation dialog that a destructive button opens, checked for its texts."""
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    assert dialog.evaluate("dialog => dialog.open && dialog.matches(':modal')")
    expect(dialog.get_by_text(question)).to_be_visible()
    return dialog


def create_through_the_form(page: Page, name: str, role: str) -> ServiceAccount:
    page.get_by_role("link", name="Add service account", exact=True).first.click()
    expect(page.get_by_role("heading", name="Create service account")).to_be_visible()
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/org/serviceaccounts/\d+$"))
    account = ServiceAccount.objects.get(name=name)
    assert page.url.endswith(f"/org/serviceaccounts/{account.pk}")
    expect(page).to_have_title(f"{name} · Keyhouse")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_text(DETAIL_BLURB)).to_be_visible()
    assert account.role == role
    return account


def open_list_from_the_sidebar(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Service accounts").click()
    page.wait_for_url("**/org/serviceaccounts")


def account_row(page: Page, name: str):
    return page.locator("#sa-results tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


def test_admin_manages_a_service_account_with_htmx(page: Page, admin, other_account):
    log_in(page, "alice")

    # 1. Create through the UI and land on the account's page.
    account = create_through_the_form(page, "CI deployer", "Editor")

    # 2. Back to the list; the live search narrows it and keeps the query in the URL.
    open_list_from_the_sidebar(page)
    rows = page.locator("#sa-results tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Search service account by name").fill("deploy")
    expect(page).to_have_url(re.compile(r"/org/serviceaccounts\?(.*&)?query=deploy(&|$)"))
    expect(rows).to_have_count(1)
    row = account_row(page, "CI deployer")
    expect(row).to_be_visible()
    expect(page.get_by_role("link", name="Grafana backup", exact=True)).to_have_count(0)

    # 3. Change the role inline: the select saves on change.
    role_picker = page.get_by_label("Role of CI deployer")
    expect(role_picker).to_have_value("Editor")
    expect(row.get_by_role("button", name="Save")).to_be_hidden()  # JS hides the fallback
    role_picker.select_option("Viewer")
    expect(row.get_by_role("status")).to_have_text("Saved")
    account.refresh_from_db()
    assert account.role == Role.VIEWER
    page.reload()
    expect(page.get_by_label("Search service account by name")).to_have_value("deploy")
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Role of CI deployer")).to_have_value("Viewer")

    # 4. Disable from the list: Cancel in the dialog changes nothing; confirming does, and the
    # search stays. Then enable again.
    row.get_by_role("link", name="Disable", exact=True).click()
    question = "Are you sure you want to disable 'CI deployer'?"
    dialog = confirmation(page, "Disable service account", question)
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    account.refresh_from_db()
    assert not account.is_disabled
    row.get_by_role("link", name="Disable", exact=True).click()
    dialog = confirmation(page, "Disable service account", question)
    dialog.get_by_role("button", name="Disable service account").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row).to_have_class(re.compile(r"\bis-dimmed\b"))
    expect(row.get_by_text("Disabled", exact=True)).to_be_visible()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Search service account by name")).to_have_value("deploy")
    account.refresh_from_db()
    assert account.is_disabled
    row.get_by_role("button", name="Enable").click()
    expect(row.get_by_role("link", name="Disable", exact=True)).to_be_visible()
    expect(row).not_to_have_class(re.compile(r"\bis-dimmed\b"))
    expect(row.get_by_text("Disabled", exact=True)).to_have_count(0)
    account.refresh_from_db()
    assert not account.is_disabled

    # 5. Rename on its page: Cancel restores, Save updates the name and the page title.
    row.get_by_role("link", name="CI deployer", exact=True).click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    title = page.get_by_role("heading", level=1)
    name_cell = page.locator("#sa-name")
    name_cell.get_by_role("link", name="Edit").click()
    name_input = name_cell.get_by_label("Name")
    expect(name_input).to_have_value("CI deployer")
    name_input.fill("Scrapped name")
    name_cell.get_by_role("link", name="Cancel").click()
    expect(name_cell.get_by_role("link", name="Edit")).to_be_visible()
    expect(name_cell).to_contain_text("CI deployer")
    expect(title).to_have_text("CI deployer")
    name_cell.get_by_role("link", name="Edit").click()
    name_cell.get_by_label("Name").fill("Release deployer")
    name_cell.get_by_role("button", name="Save").click()
    expect(name_cell.get_by_role("status")).to_have_text("Saved")
    expect(name_cell).to_contain_text("Release deployer")
    expect(title).to_have_text("Release deployer")
    expect(page.locator("#sa-header")).to_have_count(1)
    expect(page).to_have_title("Release deployer · Keyhouse")
    account.refresh_from_db()
    assert account.name == "Release deployer"

    # 6. Disable on its page too: the header changes in place. Escape closes a dialog.
    header = page.locator("#sa-header")
    header.get_by_role("link", name="Disable service account").click()
    confirmation(page, "Disable service account", "disable 'Release deployer'?")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    header.get_by_role("link", name="Disable service account").click()
    dialog = confirmation(page, "Disable service account", "disable 'Release deployer'?")
    dialog.get_by_role("button", name="Disable service account").click()
    expect(header.get_by_text("Disabled", exact=True)).to_be_visible()
    expect(header.get_by_role("button", name="Enable service account")).to_be_visible()
    assert page.url.endswith(f"/org/serviceaccounts/{account.pk}")
    header.get_by_role("button", name="Enable service account").click()
    expect(header.get_by_role("link", name="Disable service account")).to_be_visible()
    expect(header.get_by_text("Disabled", exact=True)).to_have_count(0)
    account.refresh_from_db()
    assert not account.is_disabled

    # 7. Delete from its page: confirmed in the dialog, back on the list, it is gone.
    header.get_by_role("link", name="Delete service account", exact=True).click()
    question = "Are you sure you want to delete 'Release deployer' and 0 accompanying tokens?"
    dialog = confirmation(page, "Delete service account", question)
    dialog.get_by_role("button", name="Delete service account").click()
    page.wait_for_url("**/org/serviceaccounts")
    expect(page.get_by_text("Service account 'Release deployer' deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Grafana backup", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Release deployer", exact=True)).to_have_count(0)
    assert not ServiceAccount.objects.filter(pk=account.pk).exists()


def test_deleting_from_the_list_keeps_the_search_and_reports_it(page: Page, admin, other_account):
    identity = Identity(kind="user", org=other_account.org, role=Role.ADMIN, user=admin)
    doomed = service_account_create(identity=identity, name="Grafana doomed")
    service_account_create(identity=identity, name="Unrelated")
    log_in(page, "alice")
    page.get_by_label("Search service account by name").fill("grafana")
    rows = page.locator("#sa-results tbody tr")
    expect(rows).to_have_count(2)
    account_row(page, "Grafana doomed").get_by_role("link", name="Delete Grafana doomed").click()
    question = "Are you sure you want to delete 'Grafana doomed' and 0 accompanying tokens?"
    dialog = confirmation(page, "Delete service account", question)
    dialog.get_by_role("button", name="Delete service account").click()
    expect(
        page.get_by_role("status").get_by_text("Service account 'Grafana doomed' deleted.")
    ).to_be_visible()
    expect(rows).to_have_count(1)
    expect(account_row(page, "Grafana backup")).to_be_visible()
    expect(page).to_have_url(re.compile(r"query=grafana"))
    assert not ServiceAccount.objects.filter(pk=doomed.pk).exists()


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-js"])
def test_the_core_flow_works_without_javascript(page: Page, admin, other_account):
    log_in(page, "alice")

    account = create_through_the_form(page, "CI deployer", "Editor")

    # Search with the plain GET form.
    open_list_from_the_sidebar(page)
    page.get_by_label("Search service account by name").fill("deploy")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/org/serviceaccounts\?(.*&)?query=deploy(&|$)"))
    rows = page.locator("#sa-results tbody tr")
    expect(rows).to_have_count(1)
    row = account_row(page, "CI deployer")

    # The role picker's Save button posts the form and comes back to the same list.
    row.get_by_label("Role of CI deployer").select_option("Viewer")
    row.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"query=deploy"))
    expect(page.get_by_label("Role of CI deployer")).to_have_value("Viewer")
    account.refresh_from_db()
    assert account.role == Role.VIEWER

    # Disable through the confirmation page; it returns to the filtered list.
    row.get_by_role("link", name="Disable", exact=True).click()
    expect(page.get_by_role("heading", name="Disable service account", exact=True)).to_be_visible()
    expect(page.get_by_text("Are you sure you want to disable 'CI deployer'?")).to_be_visible()
    page.get_by_role("button", name="Disable service account", exact=True).click()
    expect(page).to_have_url(re.compile(r"/org/serviceaccounts\?(.*&)?query=deploy(&|$)"))
    expect(rows).to_have_count(1)
    expect(row).to_have_class(re.compile(r"\bis-dimmed\b"))
    expect(row.get_by_text("Disabled", exact=True)).to_be_visible()
    account.refresh_from_db()
    assert account.is_disabled

    # Delete from its page through the confirmation page; Cancel leads back to the page.
    row.get_by_role("link", name="CI deployer", exact=True).click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    page.get_by_role("link", name="Delete service account", exact=True).click()
    expect(page.get_by_role("heading", name="Delete service account", exact=True)).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    page.get_by_role("link", name="Delete service account", exact=True).click()
    expect(page).to_have_title("Delete service account · Keyhouse")
    expect(
        page.get_by_text("Are you sure you want to delete 'CI deployer' and 0 accompanying tokens?")
    ).to_be_visible()
    page.get_by_role("button", name="Delete service account", exact=True).click()
    page.wait_for_url("**/org/serviceaccounts")
    expect(page.get_by_text("Service account 'CI deployer' deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Grafana backup", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="CI deployer", exact=True)).to_have_count(0)
    assert not ServiceAccount.objects.filter(pk=account.pk).exists()


def test_next_and_previous_page_through_the_list(page: Page, admin, org):
    """The paging links sit inside #sa-results, whose own refresh sends its current page: they
    must not inherit it, or Next asks for page=2&…&page=1 and stays on page 1."""
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)
    for number in range(PER_PAGE + 1):
        service_account_create(identity=identity, name=f"Account {number:03d}")
    log_in(page, "alice")
    paging = page.get_by_role("navigation", name="Pages")
    expect(paging).to_contain_text(f"Page 1 of 2 · {PER_PAGE + 1} service accounts")
    paging.get_by_role("link", name="Next").click()
    expect(paging).to_contain_text("Page 2 of 2")
    expect(account_row(page, f"Account {PER_PAGE:03d}")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    paging.get_by_role("link", name="Previous").click()
    expect(paging).to_contain_text("Page 1 of 2")
    expect(account_row(page, "Account 000")).to_be_visible()
