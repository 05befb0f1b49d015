"""Configuration → Audit log in a real browser: a change made in the UI shows up with its actor,
the filters narrow the list (with htmx and without JavaScript), the service account's page
links to its events, and the page passes axe-core in each state."""

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import Role
from accounts.services import service_account_create, service_account_update
from tests.e2e.axe import assert_accessible
from tests.helpers import log_in

NO_JS = {"java_script_enabled": False}


@pytest.mark.parametrize("context_options", [{}, NO_JS], ids=["htmx", "no-js"])
def test_changes_show_up_and_filter(page: Page, org_admin, context_options):
    def check(what: str) -> None:  # axe-core runs in the page: only where JavaScript does
        if context_options != NO_JS:
            assert_accessible(page, what)

    robot = service_account_create(identity=org_admin, name="robot", role=Role.VIEWER)
    service_account_update(identity=org_admin, account=robot, role=Role.EDITOR)
    service_account_create(identity=org_admin, name="other")
    log_in(page, "alice")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/org/audit")
    rows = page.locator("#audit-results tbody tr")
    expect(rows).to_have_count(3)  # alice's sign-in is server level: not in the org's log
    expect(rows.first).to_contain_text("serviceaccount.create")
    expect(rows.first).to_contain_text("other")
    check("the audit log")

    page.get_by_label("Action").fill("serviceaccount.update")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text('"from": "Viewer", "to": "Editor"')
    assert "action=serviceaccount.update" in page.url
    check("the audit log, filtered")

    page.get_by_label("Target id").fill("0")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Correct the filters above")).to_be_visible()
    check("the audit log with a filter error")

    page.goto(f"/org/serviceaccounts/{robot.pk}")
    page.get_by_role("link", name="Audit log of this service account").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#audit-results")).not_to_contain_text("other")


def test_the_empty_log(page: Page, admin):
    log_in(page, "alice")
    page.goto("/org/audit")
    expect(page.get_by_text("No events found.")).to_be_visible()
    assert_accessible(page, "the empty audit log")
