from playwright.sync_api import Page, expect

from tests.helpers import log_in


def test_admin_logs_in_sees_configuration_and_logs_out(page: Page, admin):
    page.goto("/")
    log_in(page, "alice")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_text("Configuration")).to_be_visible()
    expect(nav.get_by_role("link", name="Service accounts")).to_have_attribute(
        "aria-current", "page"
    )
    # The org switcher's button is replaced by submit-on-change when JS runs.
    expect(page.get_by_role("button", name="Switch")).to_be_hidden()
    page.get_by_text("alice").first.click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_wrong_password_shows_one_generic_error(page: Page, admin):
    page.goto("/login")
    page.get_by_label("Email or username").fill("alice")
    page.get_by_label("Password").fill("nope")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password.")
