"""Configuration → Teams: the list, a new team, a team's page (settings, members and the
picker, the permissions checklist), its actions with htmx and without, and their refusals.
Outsiders, missing permissions and CSRF are walked for every URL by tests/test_access.py."""

import pytest

from accounts.models import ServiceAccount, Team, TeamMember, TeamPermission
from accounts.roles import Role
from accounts.teams.services import team_create, team_member_add, team_permissions_set
from tests.helpers import (
    HTMX,
    grant,
    htmx_from,
    htmx_to,
    make_user,
    page_text,
    signed_in,
    triggered,
)

pytestmark = pytest.mark.django_db

LIST = "/org/teams"


@pytest.fixture
def team(org_admin) -> Team:
    return team_create(identity=org_admin, name="Ingest", email="ingest@example.com")


@pytest.fixture
def everyone(org) -> Team:
    return Team.objects.get(org=org, is_everyone=True)


@pytest.fixture
def robot(make_account) -> ServiceAccount:
    return make_account("robot")


def page_of(team: Team) -> str:
    return f"/org/teams/{team.pk}"


class TestList:
    def test_lists_teams_with_member_counts_and_permissions(
        self, admin_client, team, everyone, org_admin, robot, editor
    ):
        team_member_add(identity=org_admin, team=team, service_account=robot)
        team_permissions_set(identity=org_admin, team=team, permissions=["apikeys:write"])
        html = page_text(admin_client.get(LIST))
        assert "Search teams" in html
        assert "New team" in html
        row = html[html.index(f'id="team-row-{team.pk}"') :]
        row = row[: row.index("</tr>")]
        assert "Ingest" in row
        assert "ingest@example.com" in row
        assert "<td>1</td>" in row
        assert "apikeys:write" in row
        assert 'aria-label="Delete team Ingest"' in row
        # Everyone counts every user (alice, eddie) and service account (robot) of the org.
        everyone_row = html[html.index(f'id="team-row-{everyone.pk}"') :]
        everyone_row = everyone_row[: everyone_row.index("</tr>")]
        assert "Built in" in everyone_row
        assert "<td>3</td>" in everyone_row
        assert "Delete team" not in everyone_row

    def test_live_search_answers_with_the_results_only(self, admin_client, team, org_admin):
        team_create(identity=org_admin, name="Billing")
        response = admin_client.get(LIST, {"query": "INGE"}, **htmx_to("team-results"))
        html = response.content.decode()
        assert html.strip().startswith('<div id="team-results"')
        assert "Ingest" in html
        assert "Billing" not in html
        assert "No teams found." in admin_client.get(LIST, {"query": "zzz"}).content.decode()

    def test_search_without_javascript_is_the_whole_page(self, admin_client, team):
        html = admin_client.get(LIST, {"query": "ingest"}).content.decode()
        assert "<html" in html
        assert 'value="ingest"' in html

    def test_paging(self, admin_client, org_admin):
        for number in range(50):
            team_create(identity=org_admin, name=f"Team {number:02d}")
        first = admin_client.get(LIST).content.decode()
        assert "Page 1 of 2 · 51 teams" in first
        second = admin_client.get(LIST, {"page": 2}, **htmx_to("team-results")).content.decode()
        assert second.count('<tr id="team-row-') == 1

    def test_names_are_escaped(self, admin_client, org_admin):
        team_create(identity=org_admin, name="<script>x</script>")
        html = admin_client.get(LIST).content.decode()
        assert "<script>x</script>" not in html


class TestCreate:
    def test_create_leads_to_the_new_teams_page(self, admin_client, org):
        assert "New team" in admin_client.get("/org/teams/new").content.decode()
        response = admin_client.post("/org/teams/new", {"name": "Ops", "email": ""})
        team = Team.objects.get(org=org, name="Ops")
        assert response.url == page_of(team)
        assert "Team 'Ops' created." in page_text(admin_client.get(response.url))

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"name": ""}, "This field is required."),
            ({"name": "INGEST"}, "A team named 'INGEST' already exists."),
            ({"name": "Everyone"}, "A team named 'Everyone' already exists."),
            ({"name": "Ops", "email": "not-an-email"}, "Enter a valid email address."),
            ({"name": "Bad\x01name"}, "Team name cannot contain control characters."),
            ({"name": "Bad\ufffdname"}, "Team name must be valid UTF-8 text."),
            ({"name": "x" * 191}, "at most 190 characters"),
        ],
    )
    def test_errors_are_shown_next_to_the_field(self, admin_client, team, data, error):
        response = admin_client.post("/org/teams/new", data)
        assert response.status_code == 200
        assert error in page_text(response)
        assert Team.objects.count() == 3  # Main Org.'s and Acme's Everyone, and Ingest


class TestTeamPage:
    def test_members_table_and_the_picker(self, admin_client, team, org_admin, robot, editor):
        team_member_add(identity=org_admin, team=team, user=editor)
        html = page_text(admin_client.get(page_of(team)))
        members = html[html.index('id="team-members"') : html.index('id="member-add"')]
        assert "eddie" in members
        assert f'href="/org/teams/{team.pk}/members/users/{editor.pk}/remove"' in members
        picker = html[html.index('id="member-add"') : html.index('id="team-permissions"')]
        assert "Search users and service accounts" in picker
        # Offered: who is not a member yet, each with its own Add button.
        assert 'aria-label="Add alice to the team"' in picker
        assert 'aria-label="Add robot to the team"' in picker
        assert "Add eddie to the team" not in picker
        assert "Delete team" in html
        assert f'action="/org/teams/{team.pk}/settings"' in html

    def test_account_links_only_for_those_who_may_read_accounts(
        self, editor, team, org_admin, robot
    ):
        team_member_add(identity=org_admin, team=team, service_account=robot)
        grant(editor, "teams:write")
        client = signed_in(editor)
        members = page_text(client.get(page_of(team), **htmx_to("team-members")))
        assert "robot" in members
        assert f'href="/org/serviceaccounts/{robot.pk}"' not in members
        grant(editor, "serviceaccounts:read")
        members = page_text(client.get(page_of(team), **htmx_to("team-members")))
        assert f'href="/org/serviceaccounts/{robot.pk}"' in members

    def test_the_picker_searches_as_you_type(self, admin_client, team, make_account):
        make_account("metrics-pusher")
        response = admin_client.get(
            page_of(team), {"member_query": "PUSH"}, **htmx_to("member-candidates")
        )
        html = page_text(response)
        assert html.strip().startswith('<div id="member-candidates"')
        assert "metrics-pusher" in html
        assert "alice" not in html
        nothing = admin_client.get(page_of(team), {"member_query": "zzz"}).content.decode()
        assert "No user or service account outside this team matches" in nothing

    def test_the_picker_shows_a_few_and_says_there_are_more(self, admin_client, team, org):
        for number in range(10):
            make_user(f"user{number}", org, Role.VIEWER)
        html = admin_client.get(page_of(team), {"member_query": "user"}).content.decode()
        assert html.count('name="user"') == 8
        assert "More match: refine the search to find them." in html

    def test_everyone_shows_implicit_members_and_its_permissions_only(
        self, admin_client, everyone, robot, editor
    ):
        html = page_text(admin_client.get(page_of(everyone)))
        assert "All 2 users and 1 service account of this organization are members" in html
        assert "cannot be renamed, deleted or left" in html
        for absent in ("Delete team", "Add member", 'id="team-settings"', "/remove"):
            assert absent not in html
        assert f'action="/org/teams/{everyone.pk}/permissions"' in html
        assert "Save permissions" in html

    def test_the_permissions_checklist_is_grouped_with_descriptions(self, admin_client, team):
        html = page_text(admin_client.get(page_of(team)))
        checklist = html[html.index('id="team-permissions"') :]
        for text in ("<legend>Service accounts</legend>", "<legend>API keys</legend>"):
            assert text in checklist
        assert "List and view service accounts and their tokens." in checklist
        assert 'value="serviceaccounts:read" aria-describedby' in checklist

    def test_refreshes_are_fragments(self, admin_client, team):
        for target in ("team-members", "member-candidates", "team-permissions"):
            html = admin_client.get(page_of(team), **htmx_to(target)).content.decode()
            assert "<html" not in html
            assert f'id="{target}"' in html.split(">", 1)[0]

    def test_another_orgs_team_is_404(self, admin_client, other_org):
        theirs = Team.objects.get(org=other_org, is_everyone=True)
        assert admin_client.get(page_of(theirs)).status_code == 404
        assert admin_client.get("/org/teams/abc").status_code == 404


class TestSettings:
    def test_rename_with_htmx_updates_the_header_and_title(self, admin_client, team):
        url = f"{page_of(team)}/settings"
        response = admin_client.post(url, {"name": "Ingestion", "email": ""}, **HTMX)
        html = page_text(response)
        assert html.strip().startswith('<section class="card" id="team-settings"')
        assert "Saved" in html
        assert '<header id="team-header" class="page-header" hx-swap-oob="true">' in html
        assert "<title>Ingestion · Keyhouse</title>" in html
        assert triggered(response) == ["teamsChanged"]
        team.refresh_from_db()
        assert (team.name, team.email) == ("Ingestion", "")

    def test_rename_without_javascript(self, admin_client, team):
        url = f"{page_of(team)}/settings"
        response = admin_client.post(url, {"name": "Ops", "email": "ops@example.com"})
        assert response.url == page_of(team)
        assert "Team settings saved." in page_text(admin_client.get(response.url))

    def test_a_taken_name_is_a_form_error(self, admin_client, team, org_admin):
        team_create(identity=org_admin, name="Billing")
        url = f"{page_of(team)}/settings"
        html = page_text(admin_client.post(url, {"name": "billing"}, **HTMX))
        assert "A team named 'billing' already exists." in html
        assert "Saved" not in html
        full = page_text(admin_client.post(url, {"name": "billing"}))
        assert "<html" in full
        assert "A team named 'billing' already exists." in full
        team.refresh_from_db()
        assert team.name == "Ingest"

    def test_everyone_cannot_be_renamed(self, admin_client, everyone):
        url = f"{page_of(everyone)}/settings"
        html = page_text(admin_client.post(url, {"name": "All"}, **HTMX))
        assert "The Everyone team is built in" in html
        everyone.refresh_from_db()
        assert everyone.name == "Everyone"


class TestDelete:
    def test_asks_with_the_member_count_then_deletes(self, admin_client, team, org_admin, robot):
        team_member_add(identity=org_admin, team=team, service_account=robot)
        url = f"{page_of(team)}/delete"
        dialog = page_text(admin_client.get(url, {"next": LIST}, **htmx_from(LIST)))
        assert dialog.strip().startswith('<dialog id="confirm-dialog"')
        assert "delete the team 'Ingest'? Its 1 member loses the permissions" in dialog
        response = admin_client.post(url, {"next": LIST}, **htmx_from(LIST))
        assert triggered(response) == ["teamsChanged"]
        assert "Team 'Ingest' deleted." in page_text(response)
        assert not Team.objects.filter(pk=team.pk).exists()
        assert not TeamMember.objects.exists()

    def test_from_its_own_page_it_lands_on_the_list(self, admin_client, team):
        url = f"{page_of(team)}/delete"
        page = page_text(admin_client.get(url, {"next": page_of(team)}))
        assert f'<a class="btn btn-secondary" href="{page_of(team)}">Cancel</a>' in page
        assert admin_client.post(url, {"next": page_of(team)}).url == LIST

    def test_everyone_is_refused_in_the_dialog(self, admin_client, everyone):
        url = f"{page_of(everyone)}/delete"
        response = admin_client.post(url, {"next": LIST}, **htmx_from(LIST))
        assert response.status_code == 200
        assert response["HX-Retarget"] == "#dialog-host"
        assert response["HX-Reswap"] == "innerHTML"
        assert "The Everyone team is built in" in page_text(response)
        no_js = admin_client.post(url, {"next": LIST})
        assert no_js.status_code == 200
        assert "The Everyone team is built in" in page_text(no_js)
        assert Team.objects.filter(pk=everyone.pk).exists()


class TestMembers:
    def test_add_a_user_with_htmx(self, admin_client, team, editor):
        url = f"{page_of(team)}/members/add"
        response = admin_client.post(url, {"user": editor.pk}, **htmx_from(page_of(team)))
        assert triggered(response) == ["teamMembersChanged"]
        assert "Added 'eddie' to the team 'Ingest'." in page_text(response)
        assert TeamMember.objects.filter(team=team, user=editor).exists()
        # What the picker then fetches: eddie is no longer offered.
        picker = admin_client.get(page_of(team), **htmx_to("member-candidates")).content
        assert b"Add eddie to the team" not in picker

    def test_add_a_service_account_without_javascript(self, admin_client, team, robot):
        url = f"{page_of(team)}/members/add"
        response = admin_client.post(url, {"service_account": robot.pk})
        assert response.url == page_of(team)
        assert TeamMember.objects.filter(team=team, service_account=robot).exists()

    def test_refusals_show_in_the_picker(self, admin_client, team, org_admin, robot):
        team_member_add(identity=org_admin, team=team, service_account=robot)
        url = f"{page_of(team)}/members/add"
        data = {"service_account": robot.pk, "member_query": "rob"}
        response = admin_client.post(url, data, **htmx_from(page_of(team)))
        assert response["HX-Retarget"] == "#member-candidates"
        html = page_text(response)
        assert html.strip().startswith('<div id="member-candidates"')
        assert "Service account is already a member of this team." in html
        no_js = page_text(admin_client.post(url, data))
        assert "<html" in no_js
        assert "Service account is already a member of this team." in no_js
        assert 'value="rob"' in no_js  # the search stays

    def test_the_grant_ceiling_applies_to_joining(self, editor, team, org_admin, robot):
        """An Editor managing teams cannot hand a team's serviceaccounts:write to anyone."""
        grant(editor, "teams:write")
        team_permissions_set(identity=org_admin, team=team, permissions=["serviceaccounts:write"])
        response = signed_in(editor).post(
            f"{page_of(team)}/members/add", {"service_account": robot.pk}, **HTMX
        )
        assert "Cannot grant permissions you do not hold yourself: serviceaccounts:write" in (
            page_text(response)
        )
        assert not TeamMember.objects.filter(team=team, service_account=robot).exists()

    def test_everyone_takes_no_explicit_members(self, admin_client, everyone, robot):
        response = admin_client.post(
            f"{page_of(everyone)}/members/add", {"service_account": robot.pk}, **HTMX
        )
        assert "Everyone's members are implicit" in page_text(response)
        assert not TeamMember.objects.exists()

    def test_another_orgs_principals_are_404(self, admin_client, team, outsider, other_org):
        url = f"{page_of(team)}/members/add"
        assert admin_client.post(url, {"user": outsider.pk}).status_code == 404
        theirs = ServiceAccount.objects.create(org=other_org, name="x", login="sa-x")
        assert admin_client.post(url, {"service_account": theirs.pk}).status_code == 404
        assert admin_client.post(url, {}).status_code == 404
        assert not TeamMember.objects.exists()

    def test_remove_a_user_after_confirming(self, admin_client, team, org_admin, editor):
        team_member_add(identity=org_admin, team=team, user=editor)
        url = f"{page_of(team)}/members/users/{editor.pk}/remove"
        dialog = page_text(admin_client.get(url, **htmx_from(page_of(team))))
        assert "Remove team member" in dialog
        assert "Remove 'eddie' from the team 'Ingest'? They lose the permissions" in dialog
        response = admin_client.post(url, **htmx_from(page_of(team)))
        assert triggered(response) == ["teamMembersChanged"]
        assert "Removed 'eddie' from the team 'Ingest'." in page_text(response)
        assert not TeamMember.objects.exists()
        assert admin_client.get(url).status_code == 404  # no longer a member

    def test_remove_a_service_account_back_to_its_page(self, admin_client, team, org_admin, robot):
        team_member_add(identity=org_admin, team=team, service_account=robot)
        back = f"/org/serviceaccounts/{robot.pk}"
        url = f"{page_of(team)}/members/serviceaccounts/{robot.pk}/remove"
        assert "Remove 'robot' from the team 'Ingest'?" in page_text(
            admin_client.get(url, {"next": back})
        )
        assert admin_client.post(url, {"next": back}).url == back
        assert not TeamMember.objects.exists()


class TestPermissions:
    def test_save_replaces_the_set(self, admin_client, team, org_admin):
        team_permissions_set(identity=org_admin, team=team, permissions=["apikeys:write"])
        url = f"{page_of(team)}/permissions"
        data = {"permission": ["serviceaccounts:read", "users:write"]}
        response = admin_client.post(url, data, **HTMX)
        html = page_text(response)
        assert html.strip().startswith('<section class="card" id="team-permissions"')
        assert "Saved" in html
        assert triggered(response) == ["permissionsChanged"]
        assert team.permission_names() == ["serviceaccounts:read", "users:write"]
        assert 'value="users:write" aria-describedby="team-perms-4-1-help" checked' in html

    def test_save_without_javascript(self, admin_client, everyone):
        url = f"{page_of(everyone)}/permissions"
        response = admin_client.post(url, {"permission": "serviceaccounts:read"})
        assert response.url == page_of(everyone)
        assert "Permissions saved." in page_text(admin_client.get(response.url))
        assert everyone.permission_names() == ["serviceaccounts:read"]
        admin_client.post(url, {})
        assert everyone.permission_names() == []

    def test_an_unknown_permission_is_a_form_error(self, admin_client, team):
        url = f"{page_of(team)}/permissions"
        for bad in ("metrics:nope", "x\x00y"):
            html = page_text(admin_client.post(url, {"permission": bad}, **HTMX))
            assert "Unknown permission" in html
            full = page_text(admin_client.post(url, {"permission": bad}))
            assert "<html" in full
            assert "Unknown permission" in full
        assert not TeamPermission.objects.exists()

    def test_the_grant_ceiling_disables_and_refuses(self, editor, team, org_admin):
        grant(editor, "teams:write")
        team_permissions_set(identity=org_admin, team=team, permissions=["users:write"])
        client = signed_in(editor)
        html = page_text(client.get(page_of(team)))
        # Not held: cannot be granted; held by the team already: may still be taken away.
        assert 'value="apikeys:write" aria-describedby="team-perms-2-1-help" disabled' in html
        assert "You don't hold this permission, so you cannot grant it." in html
        assert 'value="users:write" aria-describedby="team-perms-4-1-help" checked>' in html
        url = f"{page_of(team)}/permissions"
        refused = page_text(client.post(url, {"permission": ["apikeys:write"]}, **HTMX))
        assert "Cannot grant permissions you do not hold yourself: apikeys:write" in refused
        assert team.permission_names() == ["users:write"]
        client.post(url, {"permission": ["teams:write"]}, **HTMX)  # held: may be granted
        assert team.permission_names() == ["teams:write"]  # and users:write taken away
