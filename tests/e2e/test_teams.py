"""Teams, permissions and org users in a real browser, every flow with htmx and with JavaScript
disabled: an Admin defines a custom permission, gives it to a new team, adds a service account
to the team through the picker (by keyboard) and finds the permission among the account's
effective permissions; an Editor given serviceaccounts:write through a team creates a token;
org users are added, re-roled and removed, with the last-Admin refusals shown where they
happen. axe-core checks every page, dialog and error state on the way (with htmx; the pages
without JavaScript are checked with our scripts served empty, as Playwright cannot evaluate
anything in a page that has JavaScript disabled)."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.models import Membership, Permission, Team, TeamMember
from accounts.roles import Role
from accounts.teams.services import (
    permission_create,
    service_account_permissions_set,
    team_create,
    team_member_add,
    team_permissions_set,
)
from tests.e2e.axe import assert_accessible
from tests.helpers import log_in, make_user

BOTH = pytest.mark.parametrize(
    "context_options", [{}, {"java_script_enabled": False}], ids=["htmx", "no-js"]
)


@pytest.fixture
def js(context_options) -> bool:
    return context_options.get("java_script_enabled", True)


def open_from_the_sidebar(page: Page, name: str, path: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
    page.wait_for_url(f"**{path}")


def confirm(page: Page, title: str, question: str, js: bool) -> Locator:
    """The confirmation a destructive link opens: a modal dialog with htmx, a page without."""
    scope = page.get_by_role("dialog", name=title) if js else page.locator("main")
    expect(scope.get_by_role("heading", name=title)).to_be_visible()
    expect(scope.get_by_text(question)).to_be_visible()
    return scope


def accessible(page: Page, what: str, js: bool) -> None:
    if js:  # see test_pages_without_our_scripts_are_accessible for the others
        assert_accessible(page, what)


def settled(region: Locator) -> None:
    """htmx has set up what it swapped into ``region``: its hx- attributes work (until then a
    fast click would submit plainly). New content keeps the class htmx-added until then."""
    expect(region).not_to_have_class(re.compile(r"\bhtmx-(added|settling|swapping)\b"))
    expect(region.locator(".htmx-added")).to_have_count(0)


def message(page: Page, text: str) -> None:
    expect(page.locator("#messages").get_by_text(text)).to_be_visible()


def create_team(page: Page, name: str, permission: str, js: bool) -> None:
    """Teams → New team, then tick ``permission`` in its checklist and save."""
    open_from_the_sidebar(page, "Teams", "/org/teams")
    accessible(page, "the teams list", js)
    page.get_by_role("link", name="New team").click()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_have_text("This field is required.")
    accessible(page, "the new team page with an error", js)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(f"{name.lower()}@example.com")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/org/teams/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    message(page, f"Team '{name}' created.")
    accessible(page, "a team's page", js)
    checklist = page.locator("#team-permissions")
    checklist.get_by_label(permission).check()
    checklist.get_by_role("button", name="Save permissions").click()
    if js:
        expect(checklist.get_by_role("status")).to_have_text("Saved")
        expect(checklist.get_by_role("button", name="Save permissions")).to_be_focused()
    else:
        message(page, "Permissions saved.")
    expect(page.locator("#team-permissions").get_by_label(permission)).to_be_checked()


def add_member_by_keyboard(page: Page, search: str, name: str, js: bool) -> None:
    """The picker: type, Tab to the member's Add button, Enter."""
    query = page.get_by_label("Search users and service accounts")
    query.fill(search)
    if not js:
        query.press("Enter")  # the plain search form
    add = page.locator("#member-candidates").get_by_role("button", name=f"Add {name} to the team")
    expect(add).to_be_visible()
    expect(page.locator("#member-candidates").get_by_role("button")).to_have_count(1)
    settled(page.locator("#member-candidates"))
    accessible(page, "the member picker with results", js)
    page.get_by_label("Search users and service accounts").focus()
    page.keyboard.press("Tab")
    if not js:
        page.keyboard.press("Tab")  # past the Search button, which htmx makes unnecessary
    expect(add).to_be_focused()
    page.keyboard.press("Enter")
    message(page, f"Added '{name}' to the team")
    expect(page.locator("#team-members").get_by_role("cell", name=name, exact=True)).to_be_visible()
    expect(add).to_have_count(0)
    if js:  # the Add button went away with the picker's refresh: focus is back in the search
        expect(page.get_by_label("Search users and service accounts")).to_be_focused()


@BOTH
def test_a_custom_permission_reaches_a_service_account_through_a_team(
    page: Page, js, admin, make_account
):
    account = make_account("metrics-pusher", role=Role.EDITOR)
    make_account("unrelated")
    log_in(page, "alice")

    # 1. Configuration → Permissions: add a custom permission.
    open_from_the_sidebar(page, "Permissions", "/org/permissions")
    accessible(page, "the permissions page", js)
    form = page.locator("#permission-add")
    form.get_by_label("Name").fill("Metrics")
    form.get_by_role("button", name="Add permission").click()
    expect(page.locator("#permission-add").get_by_role("alert")).to_contain_text("area:action")
    accessible(page, "the permissions page with an error", js)
    form = page.locator("#permission-add")
    form.get_by_label("Name").fill("metrics:ingest")
    form.get_by_label("Description").fill("Push metrics to the ingest API")
    form.get_by_role("button", name="Add permission").click()
    expect(page.get_by_text("Permission 'metrics:ingest' added.")).to_be_visible()
    row = page.locator("#permission-table tr").filter(has_text="metrics:ingest")
    expect(row).to_contain_text("Push metrics to the ingest API")
    expect(row).to_contain_text("0 teams, 0 service accounts")

    # 2. A new team holding it, and the service account in the team.
    create_team(page, "Ingest", "metrics:ingest", js)
    add_member_by_keyboard(page, "pusher", "metrics-pusher", js)

    # 3. The account's page: its teams, and the permission with where it comes from.
    page.locator("#team-members").get_by_role("link", name="metrics-pusher", exact=True).click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    teams = page.locator("#sa-teams")
    expect(teams.get_by_role("listitem")).to_have_count(2)
    expect(teams.get_by_role("listitem").first).to_contain_text("Everyone (built in)")
    expect(teams.get_by_role("link", name="Ingest", exact=True)).to_be_visible()
    effective = page.locator("#sa-effective tbody tr").filter(has_text="metrics:ingest")
    expect(effective).to_contain_text("Push metrics to the ingest API")
    expect(effective.get_by_role("link", name="Team: Ingest")).to_be_visible()
    accessible(page, "a service account's page with teams and permissions", js)

    # 4. The list shows its teams too.
    open_from_the_sidebar(page, "Service accounts", "/org/serviceaccounts")
    listed = page.locator("#sa-results tbody tr").filter(
        has=page.get_by_role("link", name="metrics-pusher", exact=True)
    )
    expect(listed.locator(".chip")).to_have_text(["Everyone", "Ingest"])

    # 5. Deleting the permission says who holds it, then takes it from them.
    open_from_the_sidebar(page, "Permissions", "/org/permissions")
    page.get_by_role("link", name="Delete permission metrics:ingest").click()
    dialog = confirm(
        page,
        "Delete permission",
        "1 team and 0 service accounts hold it; they lose it",
        js,
    )
    accessible(page, "the delete permission confirmation", js)
    dialog.get_by_role("button", name="Delete permission").click()
    message(page, "Permission 'metrics:ingest' deleted.")
    expect(page.locator("#permission-table")).not_to_contain_text("metrics:ingest")
    assert not Permission.objects.exists()
    page.goto(f"/org/serviceaccounts/{account.pk}")
    expect(page.locator("#sa-effective")).to_contain_text("None yet")


@BOTH
def test_an_editor_given_serviceaccounts_write_through_a_team_creates_a_token(
    page: Page, js, admin, editor, make_account
):
    account = make_account("deployer", role=Role.EDITOR)
    log_in(page, "alice")
    create_team(page, "Automation", "serviceaccounts:write", js)
    add_member_by_keyboard(page, "edd", "eddie", js)
    assert TeamMember.objects.filter(user=editor).exists()

    page.context.clear_cookies()
    log_in(page, "eddie")  # lands on Service accounts, which the team lets them use
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Service accounts")).to_be_visible()
    expect(nav.get_by_role("link", name="Teams")).to_have_count(0)
    page.get_by_role("link", name="deployer", exact=True).click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    page.get_by_role("link", name="Add service account token", exact=True).click()
    scope = page.locator("dialog#token-dialog") if js else page.locator("main")
    scope.get_by_label("Display name").fill("CI pipeline")
    scope.get_by_label("No expiration").check()
    scope.get_by_role("button", name="Generate token").click()
    expect(scope.get_by_role("heading", name="Service account token created")).to_be_visible()
    secret = scope.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("glsa_")
    assert list(account.tokens.values_list("name", flat=True)) == ["CI pipeline"]


def member_row(page: Page, login: str) -> Locator:
    return page.locator("#user-results tbody tr").filter(
        has=page.get_by_role("cell", name=re.compile(rf"^{login}( You)?$"))
    )


def choose_role(page: Page, login: str, role: str, js: bool) -> None:
    row = member_row(page, login)
    settled(page.locator("#user-results"))
    settled(row)
    row.get_by_label(f"Role of {login}").select_option(role)
    if not js:
        row.get_by_role("button", name="Save").click()


@BOTH
def test_org_users_are_added_re_roled_and_removed(page: Page, js, admin, org):
    make_user("lou", None, None, name="Lou Reed")
    log_in(page, "alice")
    open_from_the_sidebar(page, "Users", "/org/users")
    expect(page.get_by_role("heading", name="Organization users")).to_be_visible()
    accessible(page, "the users page", js)

    # Add an existing user by e-mail, with a role.
    form = page.locator("#org-user-add")
    form.get_by_label("Email or username").fill("ghost@example.com")
    form.get_by_role("button", name="Add user").click()
    expect(page.locator("#org-user-add").get_by_role("alert")).to_have_text("User not found")
    accessible(page, "the users page with an error", js)
    form = page.locator("#org-user-add")
    form.get_by_label("Email or username").fill("LOU@example.com")
    form.get_by_label("Role").select_option("Editor")
    form.get_by_role("button", name="Add user").click()
    expect(page.get_by_text("Added 'lou' to Acme as Editor.")).to_be_visible()
    expect(member_row(page, "lou").get_by_label("Role of lou")).to_have_value("Editor")

    # Change the role inline.
    choose_role(page, "lou", "Viewer", js)
    if js:
        expect(member_row(page, "lou").get_by_role("status")).to_have_text("Saved")
    else:
        message(page, "Changed the role of 'lou' to Viewer.")
    assert Membership.objects.get(org=org, user__username="lou").role == Role.VIEWER

    # The last Admin cannot step down: the refusal shows by the role, which stays Admin.
    choose_role(page, "alice", "Editor", js)
    alert = member_row(page, "alice").get_by_role("alert")
    expect(alert).to_have_text("Cannot change role so that there is no organization admin left")
    expect(member_row(page, "alice").get_by_label("Role of alice")).to_have_value("Admin")
    accessible(page, "the users page with a refused role", js)

    # Nor leave: her Remove button is disabled and says why (the service refuses it anyway).
    remove_alice = member_row(page, "alice").get_by_role(
        "button", name="Remove alice from the organization"
    )
    expect(remove_alice).to_be_disabled()
    expect(remove_alice).to_have_accessible_description(
        "The only Admin: make another member Admin first."
    )
    accessible(page, "the only Admin's disabled Remove", js)

    # Remove someone else.
    page.goto("/org/users")
    page.get_by_role("link", name="Remove lou from the organization").click()
    scope = confirm(page, "Remove user", "remove 'lou' from Acme?", js)
    accessible(page, "the remove user confirmation", js)
    scope.get_by_role("button", name="Remove user").click()
    message(page, "Removed 'lou' from Acme.")
    expect(member_row(page, "lou")).to_have_count(0)
    assert not Membership.objects.filter(org=org, user__username="lou").exists()


@BOTH
def test_a_service_accounts_teams_and_permissions_on_its_page(
    page: Page, js, org_admin, make_account
):
    account = make_account("robot")
    permission_create(identity=org_admin, name="proxies:manage", description="Run proxies")
    team = team_create(identity=org_admin, name="Proxies")
    team_permissions_set(identity=org_admin, team=team, permissions=["proxies:manage"])
    log_in(page, "alice")
    page.goto(f"/org/serviceaccounts/{account.pk}")
    expect(page.locator("#sa-effective")).to_contain_text("None yet")

    # Join a team: its permission becomes effective.
    teams = page.locator("#sa-teams")
    teams.get_by_label("Add to team").select_option("Proxies")
    teams.get_by_role("button", name="Add to team").click()
    message(page, "Added 'robot' to the team 'Proxies'.")
    expect(
        page.locator("#sa-teams").get_by_role("link", name="Proxies", exact=True)
    ).to_be_visible()
    effective = page.locator("#sa-effective tbody tr").filter(has_text="proxies:manage")
    expect(effective.locator(".chip")).to_have_text(["Team: Proxies"])

    # An individual permission adds a source.
    checklist = page.locator("#sa-permissions")
    checklist.get_by_label("proxies:manage").check()
    checklist.get_by_role("button", name="Save permissions").click()
    if js:
        expect(page.locator("#sa-permissions").get_by_role("status")).to_have_text("Saved")
    expect(effective.locator(".chip")).to_have_text(["Individual", "Team: Proxies"])

    # Leave the team from its chip, after confirming.
    settled(page.locator("#sa-teams"))
    page.get_by_role("link", name="Remove from Proxies").click()
    scope = confirm(page, "Remove team member", "Remove 'robot' from the team 'Proxies'?", js)
    accessible(page, "the remove team member confirmation", js)
    scope.get_by_role("button", name="Remove team member").click()
    page.wait_for_url(f"**/org/serviceaccounts/{account.pk}")
    message(page, "Removed 'robot' from the team 'Proxies'.")
    expect(page.locator("#sa-teams").get_by_role("link", name="Proxies", exact=True)).to_have_count(
        0
    )
    expect(effective.locator(".chip")).to_have_text(["Individual"])
    assert not TeamMember.objects.filter(service_account=account).exists()


def test_pages_without_our_scripts_are_accessible(page: Page, org, org_admin, make_account, editor):
    """What a browser without JavaScript gets, checked by axe: our scripts (htmx and
    keyhouse.js) are served empty, so forms post plainly and confirmations are pages."""
    page.route("**/*.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    robot = make_account("robot")
    permission_create(identity=org_admin, name="metrics:ingest", description="Push metrics")
    team = team_create(identity=org_admin, name="Ingest")
    team_permissions_set(identity=org_admin, team=team, permissions=["metrics:ingest"])
    team_member_add(identity=org_admin, team=team, service_account=robot)
    service_account_permissions_set(
        identity=org_admin, account=robot, permissions=["metrics:ingest"]
    )
    log_in(page, "alice")
    team_page = f"/org/teams/{team.pk}"
    for url, what in [
        (f"{team_page}?member_query=edd", "the picker's plain search"),
        (f"/org/teams/{Team.objects.get(org=org, is_everyone=True).pk}", "Everyone's page"),
        (f"{team_page}/delete", "the delete team page"),
        (f"{team_page}/members/serviceaccounts/{robot.pk}/remove", "the remove member page"),
        ("/org/permissions/metrics:ingest/delete", "the delete permission page"),
        (f"/org/users/{editor.pk}/remove", "the remove user page"),
        (f"/org/serviceaccounts/{robot.pk}", "a service account's page"),
    ]:
        page.goto(url)
        assert_accessible(page, f"{what} without scripts")

    page.goto(team_page)
    page.locator("#team-settings").get_by_label("Name").fill("")
    page.locator("#team-settings").get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("This field is required.")
    assert_accessible(page, "a team's settings with an error, without scripts")
    page.goto("/org/users")
    page.get_by_label("Role of alice").select_option("Viewer")
    member_row(page, "alice").get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("no organization admin left")
    assert_accessible(page, "a refused role without scripts")
