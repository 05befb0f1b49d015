"""A token's life in a real browser, as an Admin: rotate (and copy the new secret), revoke,
rename inline; the same with JavaScript off; and the Expiring soon view."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_create
from tests.helpers import call_api, log_in
from tokens.format import digest
from tokens.models import ServiceAccountToken
from tokens.services import token_create

CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}
NO_JS = {"java_script_enabled": False}
WARNING = "Copy the token now as you will not be able to see it again."


@pytest.fixture
def account(org_admin) -> ServiceAccount:
    return service_account_create(identity=org_admin, name="CI deployer", role=Role.EDITOR)


def open_account(page: Page, account: ServiceAccount) -> None:
    log_in(page, "alice")
    page.goto(f"/org/serviceaccounts/{account.pk}")
    expect(page.get_by_role("heading", level=1)).to_have_text(account.name)


def token_row(page: Page, name: str) -> Locator:
    return page.locator("#tokens tbody tr").filter(
        has=page.locator(".token-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def cell(row: Locator, index: int) -> Locator:
    return row.get_by_role("cell").nth(index)


@pytest.mark.parametrize("context_options", [CLIPBOARD], ids=["clipboard"])
def test_rotate_copy_the_new_secret_and_see_the_old_row_marked(
    page: Page, org_admin, live_server, account
):
    _, old_secret = token_create(
        identity=org_admin, account=account, name="deploy", expires_at=None
    )
    open_account(page, account)

    token_row(page, "deploy").get_by_role("link", name="Rotate token deploy").click()
    expect(page.get_by_role("dialog", name="Rotate service account token")).to_be_visible()
    dialog = page.locator("dialog#token-dialog")  # its name changes with the reveal
    expect(dialog.get_by_label("24 hours")).to_be_checked()
    expect(dialog.get_by_label("24 hours")).to_be_focused()
    expect(dialog.get_by_label("No expiration")).to_be_checked()
    dialog.get_by_label("1 hour").check()
    dialog.get_by_role("button", name="Rotate token").click()

    expect(dialog.get_by_role("heading", name="Service account token created")).to_be_visible()
    expect(dialog.get_by_text(WARNING)).to_be_visible()
    expect(
        dialog.get_by_text(re.compile(r"keeps working until \d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    ).to_be_visible()
    secret = dialog.get_by_label("Token", exact=True).input_value()
    dialog.get_by_role("button", name="Copy to clipboard and close").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # The table refreshed: the new token has the name; the old row says it was rotated and
    # when it stops working.
    new = ServiceAccountToken.objects.get(digest=digest(secret))
    old = ServiceAccountToken.objects.get(digest=digest(old_secret))
    expect(cell(token_row(page, "deploy"), 1)).to_have_text("Never")
    old_row = token_row(page, old.name)
    expect(old_row.get_by_text("Rotated", exact=True)).to_be_visible()
    expect(cell(old_row, 1)).to_have_text(f"{old.expires_at:%Y-%m-%d %H:%M} UTC")
    expect(old_row.get_by_role("link", name=re.compile("^Rotate"))).to_have_count(0)
    assert new.name == "deploy"

    # During the grace window both work.
    assert call_api(live_server.url, secret)[0] == 200
    assert call_api(live_server.url, old_secret)[0] == 200
    page.reload()
    assert secret not in page.content()


def test_revoke_asks_then_marks_the_row(page: Page, org_admin, live_server, account):
    _, secret = token_create(identity=org_admin, account=account, name="proxy-1", expires_at=None)
    token_create(identity=org_admin, account=account, name="proxy-2", expires_at=None)
    open_account(page, account)

    token_row(page, "proxy-1").get_by_role("link", name="Revoke token proxy-1").click()
    dialog = page.get_by_role("dialog", name="Revoke service account token")
    expect(
        dialog.get_by_text("Are you sure you want to revoke the token 'proxy-1'?")
    ).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    dialog.get_by_role("button", name="Revoke service account token").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    row = token_row(page, "proxy-1")
    expect(row.get_by_text("Revoked", exact=True)).to_be_visible()
    expect(row.get_by_role("link", name="Revoke token proxy-1")).to_have_count(0)
    expect(
        token_row(page, "proxy-2").get_by_role("link", name="Revoke token proxy-2")
    ).to_be_visible()
    assert call_api(live_server.url, secret)[0] == 401


def test_rename_inline_with_the_keyboard(page: Page, org_admin, live_server, account):
    token_create(identity=org_admin, account=account, name="taken", expires_at=None)
    _, secret = token_create(identity=org_admin, account=account, name="ci", expires_at=None)
    open_account(page, account)

    token_row(page, "ci").get_by_role("link", name="Rename token ci").click()
    field = page.get_by_role("textbox", name="Token name")
    expect(field).to_be_focused()
    field.fill("TAKEN")
    field.press("Enter")
    expect(page.get_by_role("alert")).to_have_text(
        "A token named 'TAKEN' already exists for this service account."
    )
    expect(field).to_be_focused()
    field.fill("deploy")
    field.press("Enter")
    row = token_row(page, "deploy")
    expect(row.get_by_role("status")).to_have_text("Saved")
    expect(token_row(page, "ci")).to_have_count(0)

    # Cancel brings the row back unchanged.
    row.get_by_role("link", name="Rename token deploy").click()
    page.get_by_role("textbox", name="Token name").fill("something else")
    page.get_by_role("link", name="Cancel").click()
    expect(token_row(page, "deploy")).to_be_visible()
    expect(page.get_by_role("textbox", name="Token name")).to_have_count(0)

    page.reload()
    expect(token_row(page, "deploy")).to_be_visible()
    assert call_api(live_server.url, secret)[0] == 200


@pytest.mark.parametrize("context_options", [NO_JS], ids=["no-js"])
def test_rotate_revoke_and_rename_without_javascript(page: Page, org_admin, live_server, account):
    _, old_secret = token_create(
        identity=org_admin, account=account, name="deploy", expires_at=None
    )
    open_account(page, account)
    detail = f"**/org/serviceaccounts/{account.pk}"

    # Rename: a small form page.
    token_row(page, "deploy").get_by_role("link", name="Rename token deploy").click()
    expect(page).to_have_title("Rename token · Keyhouse")
    page.get_by_label("Name").fill("deployer")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(detail)
    expect(token_row(page, "deployer")).to_be_visible()

    # Rotate: the dialog is a page, the reveal is the answer to its form.
    token_row(page, "deployer").get_by_role("link", name="Rotate token deployer").click()
    expect(page).to_have_title("Rotate service account token · Keyhouse")
    page.get_by_label("Immediately").check()
    page.get_by_role("button", name="Rotate token").click()
    expect(page.get_by_role("heading", name="Service account token created")).to_be_visible()
    expect(page.get_by_text("has stopped working")).to_be_visible()
    secret = page.get_by_label("Token", exact=True).input_value()
    assert call_api(live_server.url, secret)[0] == 200
    assert call_api(live_server.url, old_secret)[0] == 401
    page.get_by_role("link", name="Close", exact=True).click()
    page.wait_for_url(detail)
    old = ServiceAccountToken.objects.get(digest=digest(old_secret))
    expect(cell(token_row(page, old.name), 1)).to_have_text(re.compile("Expired"))

    # Revoke: the question is a page too.
    token_row(page, "deployer").get_by_role("link", name="Revoke token deployer").click()
    expect(page).to_have_title("Revoke service account token · Keyhouse")
    page.get_by_role("button", name="Revoke service account token").click()
    page.wait_for_url(detail)
    expect(token_row(page, "deployer").get_by_text("Revoked", exact=True)).to_be_visible()
    assert call_api(live_server.url, secret)[0] == 401
    assert secret not in page.content()


@pytest.mark.parametrize("context_options", [{}, NO_JS], ids=["js", "no-js"])
def test_expiring_soon_filter_badges_and_never_expire(page: Page, org_admin, account):
    soon = service_account_create(identity=org_admin, name="Nightly")
    token_create(
        identity=org_admin,
        account=soon,
        name="backup",
        expires_at=timezone.now() + timedelta(days=3),
    )
    token_create(identity=org_admin, account=account, name="forever", expires_at=None)
    log_in(page, "alice")

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Service accounts 1 token expiring soon")).to_be_visible()
    # The badge stays on the link's line: the link is no second line taller than its
    # neighbour (the badge itself is a little taller than the text).
    with_badge = nav.get_by_role("link", name="Service accounts 1 token expiring soon")
    one_line = nav.get_by_role("link", name="API keys").bounding_box()["height"]
    assert with_badge.bounding_box()["height"] < 1.5 * one_line
    expect(page.locator("#sa-results").get_by_text("Expires in 3 days")).to_be_visible()

    page.get_by_text("Expiring soon", exact=True).click()
    search = page.get_by_role("button", name="Search")
    if search.is_visible():
        search.click()  # without JavaScript the filters are a plain form
    expect(page).to_have_url(re.compile(r"filter=expiring"))
    results = page.locator("#sa-results")
    expect(results.get_by_role("link", name="Nightly", exact=True)).to_be_visible()
    never = page.get_by_role("region", name="Never expire")
    expect(never.get_by_role("cell", name="forever")).to_be_visible()
    expect(never.get_by_role("link", name="CI deployer")).to_be_visible()
    # CI deployer's only token never expires: it is not among the accounts expiring soon.
    expect(results.get_by_role("link", name="CI deployer")).to_have_count(1)
