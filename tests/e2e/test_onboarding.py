"""Onboarding in a real browser, with htmx and with JavaScript disabled: a server admin creates
an org, invites a colleague from its Users page, and the colleague accepts from the mailed
link (taken from the live server's outbox: it runs in this process) and lands on the org's
Service accounts page. axe-core checks the new pages on the way; the pages without JavaScript
are checked with our scripts served empty (see tests/e2e/test_teams.py)."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from accounts.access import identity_for_user
from accounts.invites.services import invite_create
from accounts.models import Membership, Organization, User
from accounts.roles import Role
from tests.e2e.axe import assert_accessible
from tests.helpers import PASSWORD, log_in, make_user

BOTH = pytest.mark.parametrize(
    "context_options", [{}, {"java_script_enabled": False}], ids=["htmx", "no-js"]
)
NEW_PASSWORD = "a-long-and-unusual-passphrase"


@pytest.fixture
def js(context_options) -> bool:
    return context_options.get("java_script_enabled", True)


def accessible(page: Page, what: str, js: bool) -> None:
    if js:
        assert_accessible(page, what)


def mailed_path() -> str:
    return re.search(r"https?://[^/\s]+(/invite/\S+)", mail.outbox[-1].body).group(1)


@BOTH
def test_a_server_admin_creates_an_org_and_a_colleague_joins_from_the_invitation(
    page: Page, js, browser: Browser, live_server, context_options, server_admin, org
):
    log_in(page, "root")  # a server admin acts in every org: here Acme, the first
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Organizations").click()
    page.wait_for_url("**/admin/orgs")
    accessible(page, "Server admin → Organizations", js)
    page.get_by_role("link", name="New organization").click()
    page.get_by_label("Name").fill("Initech")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/admin/orgs/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Initech")
    expect(page.locator("#messages")).to_contain_text("Created the organization Initech.")
    accessible(page, "an org's server admin page", js)

    page.get_by_role("button", name="Manage users and invites").click()
    page.wait_for_url("**/org/users")
    expect(page.get_by_label("Organization", exact=True)).to_have_value(
        str(Organization.objects.get(name="Initech").pk)
    )
    invite_form = page.locator("#org-invite")
    invite_form.get_by_label("Email or username").fill("colleague@example.com")
    invite_form.get_by_label("Role").select_option("Admin")
    invite_form.get_by_role("button", name="Invite").click()
    sent = "Sent an invitation to colleague@example.com to join as Admin."
    if js:
        expect(page.locator("#org-invite").get_by_role("status")).to_have_text(sent)
    else:
        expect(page.locator("#messages")).to_contain_text(sent)
    expect(page.locator("#org-invites")).to_contain_text("colleague@example.com")
    accessible(page, "the Users page with a pending invite", js)

    colleague = browser.new_context(base_url=live_server.url, **context_options)
    try:
        other = colleague.new_page()
        other.set_default_timeout(10_000)
        other.goto(mailed_path())
        other.wait_for_url("**/invite/accept")
        expect(other.get_by_role("heading", level=1)).to_have_text("Join Initech")
        accessible(other, "the invitation page", js)
        other.get_by_label("Username").fill("colleague")
        other.get_by_label("Name", exact=True).fill("Colin")
        other.get_by_label("Password", exact=True).fill("short")
        other.get_by_label("Password (again)").fill("short")
        other.get_by_role("button", name="Create account and join").click()
        expect(other.get_by_role("alert").first).to_contain_text("too short")
        accessible(other, "the invitation page with an error", js)
        other.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
        other.get_by_label("Password (again)").fill(NEW_PASSWORD)
        other.get_by_role("button", name="Create account and join").click()
        other.wait_for_url("**/org/serviceaccounts")
        expect(other.get_by_role("heading", level=1)).to_have_text("Service accounts")
        expect(other.locator("#messages")).to_contain_text("Welcome to Initech.")
    finally:
        colleague.close()
    user = User.objects.get(username="colleague")
    assert Membership.objects.get(user=user).org.name == "Initech"
    assert Membership.objects.get(user=user).role == Role.ADMIN
    page.reload()
    expect(page.locator("#org-invites")).to_contain_text("No pending invites.")


@BOTH
def test_a_server_admin_disables_a_user_and_their_session_ends(
    page: Page, js, browser: Browser, live_server, context_options, server_admin, org, editor
):
    victim = browser.new_context(base_url=live_server.url, **context_options)
    try:
        theirs = victim.new_page()
        log_in_as(theirs, "eddie")
        log_in(page, "root")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").last.click()
        page.wait_for_url("**/admin/users")
        accessible(page, "Server admin → Users", js)
        page.get_by_role("link", name="eddie").click()
        accessible(page, "a user's server admin page", js)
        page.get_by_role("link", name="Disable user").click()
        scope = page.get_by_role("dialog", name="Disable user") if js else page.locator("main")
        expect(scope.get_by_text("They are logged out at once")).to_be_visible()
        accessible(page, "the disable user confirmation", js)
        scope.get_by_role("button", name="Disable user").click()
        expect(page.locator("#messages")).to_contain_text("Disabled eddie")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Disabled")
        theirs.goto("/profile")
        theirs.wait_for_url(re.compile(r"/login"))
    finally:
        victim.close()


@BOTH
def test_a_server_admin_gives_the_leak_report_grant_and_takes_it_away(
    page: Page, js, server_admin, org, make_account
):
    make_account("scanner")
    log_in(page, "root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Server grants").click()
    page.wait_for_url("**/admin/grants")
    holders = page.locator("#grant-tokensreport-leak")
    expect(holders).to_contain_text("Server admins only")
    give = page.get_by_role("region", name="Give a server permission")
    give.get_by_label("Organization").select_option(label=org.name)
    give.get_by_label("Service account").fill("nobody")
    give.get_by_role("button", name="Give").click()
    expect(give.get_by_role("alert")).to_have_text(
        f"{org.name} has no service account named 'nobody'."
    )
    accessible(page, "Server admin → Server grants with an error", js)
    give.get_by_label("Service account").fill("scanner")
    give.get_by_role("button", name="Give").click()
    expect(page.locator("#messages")).to_contain_text("now holds tokens:report-leak")
    expect(holders).to_contain_text("scanner")
    accessible(page, "Server admin → Server grants", js)
    page.get_by_role("link", name="Remove tokens:report-leak from scanner").click()
    scope = page.get_by_role("dialog", name="Remove server grant") if js else page.locator("main")
    expect(scope.get_by_text("Take tokens:report-leak away")).to_be_visible()
    accessible(page, "the remove server grant confirmation", js)
    scope.get_by_role("button", name="Remove server grant").click()
    expect(page.locator("#messages")).to_contain_text("no longer holds tokens:report-leak")
    expect(holders).to_contain_text("Server admins only")


def log_in_as(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(org|profile)"))


def test_new_pages_without_our_scripts_are_accessible(
    page: Page, server_admin, org, admin, other_org
):
    page.route("**/*.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    page.goto("/login/forgot")
    assert_accessible(page, "Forgot password")
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_role("button", name="Send reset link").click()
    page.wait_for_url("**/login/forgot/sent")
    assert_accessible(page, "Check your e-mail")
    page.goto(re.search(r"https?://[^/\s]+(/login/reset/\S+)", mail.outbox[-1].body).group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    assert_accessible(page, "Choose a new password")
    _, secret = invite_create(
        identity=identity_for_user(server_admin, other_org),
        login_or_email="alice",
        role=Role.EDITOR,
        send_email=False,
        base_url="",
    )
    page.goto(f"/invite/{secret}")
    expect(page.get_by_role("heading", name="Log in to accept")).to_be_visible()
    assert_accessible(page, "the invitation page of an existing account")
    make_user("lou", org, Role.VIEWER)
    log_in(page, "root")
    for url, what in [
        ("/admin/orgs", "Organizations"),
        ("/admin/orgs/new", "New organization"),
        (f"/admin/orgs/{org.pk}", "an org's page"),
        (f"/admin/orgs/{org.pk}/delete", "the delete organization page"),
        ("/admin/users", "Users"),
        ("/admin/users/new", "New user"),
        (f"/admin/users/{admin.pk}", "a user's page"),
        (f"/admin/users/{admin.pk}/password-reset", "the send reset link page"),
        ("/admin/grants", "Server grants"),
        ("/org/users", "the Users page with the invite form"),
    ]:
        page.goto(url)
        assert_accessible(page, f"{what} without scripts")
