"""In a real browser: after logging out, the back button shows no signed-in page; a request
that fails on the server (here a busy database) tells the person so instead of doing nothing."""

import psycopg
from django.db import OperationalError
from playwright.sync_api import Page, expect

from accounts.access import Identity
from accounts.roles import Role
from accounts.services import service_account_create
from tests.helpers import log_in


def test_back_after_logging_out_shows_no_signed_in_page(page: Page, admin):
    log_in(page, "alice")
    expect(page.get_by_role("heading", name="Service accounts", level=1)).to_be_visible()
    page.get_by_text("alice").first.click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.go_back()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("heading", name="Service accounts", level=1)).to_have_count(0)
    assert "/login" in page.url


def test_a_typed_logout_address_asks_first(page: Page, admin):
    log_in(page, "alice")
    page.goto("/logout")
    expect(page.get_by_role("heading", name="Log out")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.goto("/org/serviceaccounts")
    page.wait_for_url("**/login?next=/org/serviceaccounts")


def busy_database(**kwargs):
    try:
        raise psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    except psycopg.Error as cause:
        raise OperationalError(str(cause)) from cause


def test_a_busy_database_is_reported_where_the_person_is_looking(
    page: Page, org, admin, monkeypatch, page_problems
):
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)
    account = service_account_create(identity=identity, name="CI deployer", role=Role.EDITOR)
    log_in(page, "alice")
    monkeypatch.setattr("accounts.serviceaccount_views.service_account_update", busy_database)
    page.get_by_label("Role of CI deployer").select_option("Viewer")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Keyhouse is busy")
    expect(alert).to_contain_text("Try again in a few seconds")
    account.refresh_from_db()
    assert account.role == Role.EDITOR
    monkeypatch.undo()
    page.get_by_label("Role of CI deployer").select_option("Admin")
    expect(page.locator(".role-picker").get_by_role("status")).to_have_text("Saved")
    expect(page.get_by_role("alert")).to_have_count(0)
    # Chromium and htmx both log the 503 to the console; here it is the point.
    page_problems[:] = [p for p in page_problems if "503" not in p]
