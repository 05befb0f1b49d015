"""The service account's Teams, Permissions and Effective permissions sections (Wavefront's
Groups and Permissions), the list's Teams column, and the navigation to the new pages."""

import pytest

from accounts.models import ServiceAccount, Team, TeamMember
from accounts.roles import Role
from accounts.teams.services import (
    permission_create,
    service_account_permissions_set,
    team_create,
    team_member_add,
    team_permissions_set,
)
from tests.helpers import HTMX, grant, htmx_from, htmx_to, page_text, signed_in, triggered

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(make_account) -> ServiceAccount:
    return make_account("robot")


@pytest.fixture
def ingest(org_admin) -> Team:
    permission_create(identity=org_admin, name="metrics:ingest", description="Push metrics")
    team = team_create(identity=org_admin, name="Ingest")
    team_permissions_set(identity=org_admin, team=team, permissions=["metrics:ingest"])
    return team


def page_of(account: ServiceAccount) -> str:
    return f"/org/serviceaccounts/{account.pk}"


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


class TestTeamsSection:
    def test_chips_with_everyone_fixed(self, admin_client, account, ingest, org_admin):
        team_member_add(identity=org_admin, team=ingest, service_account=account)
        teams = section(page_text(admin_client.get(page_of(account))), "sa-teams")
        assert ">Everyone</a>" in teams
        assert "(built in)" in teams
        assert ">Ingest</a>" in teams
        remove = f"/org/teams/{ingest.pk}/members/serviceaccounts/{account.pk}/remove"
        assert f'href="{remove}?next={page_of(account)}"' in teams
        assert 'aria-label="Remove from Ingest"' in teams
        assert "Remove from Everyone" not in teams
        assert "It belongs to every team of this organization." in teams

    def test_add_to_a_team_with_htmx(self, admin_client, account, ingest):
        html = section(page_text(admin_client.get(page_of(account))), "sa-teams")
        assert '<label for="sa-team-add">Add to team</label>' in html
        assert f'<option value="{ingest.pk}">Ingest</option>' in html
        url = f"{page_of(account)}/teams/add"
        response = admin_client.post(url, {"team": ingest.pk}, **htmx_from(page_of(account)))
        assert triggered(response) == ["teamMembersChanged"]
        assert "Added 'robot' to the team 'Ingest'." in page_text(response)
        assert TeamMember.objects.filter(team=ingest, service_account=account).exists()
        # What the section and the effective permissions then fetch.
        refreshed = page_text(admin_client.get(page_of(account), **htmx_to("sa-teams")))
        assert refreshed.strip().startswith('<section class="card" id="sa-teams"')
        assert ">Ingest</a>" in refreshed
        effective = page_text(admin_client.get(page_of(account), **htmx_to("sa-effective")))
        assert "metrics:ingest" in effective
        assert f'<a href="/org/teams/{ingest.pk}">Team: Ingest</a>' in effective

    def test_add_to_a_team_without_javascript(self, admin_client, account, ingest):
        response = admin_client.post(f"{page_of(account)}/teams/add", {"team": ingest.pk})
        assert response.url == page_of(account)
        assert "Added 'robot' to the team 'Ingest'." in page_text(admin_client.get(response.url))

    def test_refusals_show_in_the_section(self, editor, account, ingest):
        """An Editor managing teams cannot give an account a team's permission they lack."""
        grant(editor, "teams:write", "serviceaccounts:read")
        client = signed_in(editor)
        url = f"{page_of(account)}/teams/add"
        response = client.post(url, {"team": ingest.pk}, **htmx_from(page_of(account)))
        assert response["HX-Retarget"] == "#sa-teams"
        html = page_text(response)
        assert html.strip().startswith('<section class="card" id="sa-teams"')
        assert "Cannot grant permissions you do not hold yourself: metrics:ingest" in html
        assert 'aria-invalid="true"' in html
        full = page_text(client.post(url, {"team": ingest.pk}))
        assert "<html" in full
        assert "Cannot grant permissions you do not hold yourself" in section(full, "sa-teams")
        assert "Choose a team." in page_text(client.post(url, {}, **HTMX))
        assert not TeamMember.objects.filter(service_account=account).exists()

    def test_a_team_manager_who_cannot_read_the_account_is_refused(self, editor, account, ingest):
        grant(editor, "teams:write")
        response = signed_in(editor).post(f"{page_of(account)}/teams/add", {"team": ingest.pk})
        assert response.status_code == 403
        assert not TeamMember.objects.filter(service_account=account).exists()

    def test_everyone_and_other_orgs_teams(self, admin_client, account, org, other_org):
        everyone = Team.objects.get(org=org, is_everyone=True)
        url = f"{page_of(account)}/teams/add"
        assert "Everyone's members are implicit" in page_text(
            admin_client.post(url, {"team": everyone.pk}, **HTMX)
        )
        theirs = Team.objects.get(org=other_org, is_everyone=True)
        assert admin_client.post(url, {"team": theirs.pk}).status_code == 404

    def test_remove_from_a_team_on_its_page(self, admin_client, account, ingest, org_admin):
        team_member_add(identity=org_admin, team=ingest, service_account=account)
        url = f"/org/teams/{ingest.pk}/members/serviceaccounts/{account.pk}/remove"
        response = admin_client.post(url, {"next": page_of(account)}, **htmx_from(page_of(account)))
        assert triggered(response) == ["teamMembersChanged"]
        assert not TeamMember.objects.exists()


class TestPermissionsSection:
    def test_the_checklist_holds_the_individual_permissions(
        self, admin_client, account, ingest, org_admin
    ):
        service_account_permissions_set(
            identity=org_admin, account=account, permissions=["metrics:ingest"]
        )
        html = section(page_text(admin_client.get(page_of(account))), "sa-permissions")
        assert "<legend>metrics</legend>" in html
        assert 'value="metrics:ingest" aria-describedby="sa-perms-7-1-help" checked>' in html
        assert "Push metrics" in html
        assert "Save permissions" in html

    def test_save_with_htmx_refreshes_the_effective_permissions(
        self, admin_client, account, ingest
    ):
        url = f"{page_of(account)}/permissions"
        response = admin_client.post(url, {"permission": ["metrics:ingest", "teams:write"]}, **HTMX)
        html = page_text(response)
        assert html.strip().startswith('<section class="card" id="sa-permissions"')
        assert "Saved" in html
        assert triggered(response) == ["permissionsChanged"]
        assert sorted(account.permission_grants.values_list("permission", flat=True)) == [
            "metrics:ingest",
            "teams:write",
        ]
        effective = page_text(admin_client.get(page_of(account), **htmx_to("sa-effective")))
        assert 'hx-trigger="permissionsChanged from:body' in effective
        assert "<code>teams:write</code>" in effective
        assert ">Individual</li>" in effective

    def test_save_without_javascript(self, admin_client, account, ingest):
        url = f"{page_of(account)}/permissions"
        response = admin_client.post(url, {"permission": "metrics:ingest"})
        assert response.url == page_of(account)
        assert "Permissions saved." in page_text(admin_client.get(response.url))

    def test_refusals_are_form_errors(self, editor, account):
        grant(editor, "serviceaccounts:write")
        client = signed_in(editor)
        url = f"{page_of(account)}/permissions"
        html = page_text(client.post(url, {"permission": "apikeys:write"}, **HTMX))
        assert "Cannot grant permissions you do not hold yourself: apikeys:write" in html
        full = page_text(client.post(url, {"permission": "nope:nope"}))
        assert "<html" in full
        assert "Unknown permission: nope:nope" in section(full, "sa-permissions")
        assert not account.permission_grants.exists()

    def test_readers_see_the_sections_without_controls(self, editor, account, ingest, org_admin):
        team_member_add(identity=org_admin, team=ingest, service_account=account)
        grant(editor, "serviceaccounts:read")
        html = page_text(signed_in(editor).get(page_of(account)))
        teams = section(html, "sa-teams")
        assert "Ingest" in teams
        assert "Remove from" not in teams
        assert "Add to team" not in teams
        assert "/org/teams/" not in teams  # the team pages need teams:write
        permissions = section(html, "sa-permissions")
        assert "Save permissions" not in permissions
        assert permissions.count(" disabled>") == permissions.count('type="checkbox"')
        assert "metrics:ingest" in section(html, "sa-effective")


class TestEffectivePermissions:
    def test_sources_individual_teams_and_everyone(self, admin_client, account, ingest, org):
        everyone = Team.objects.get(org=org, is_everyone=True)
        TeamMember.objects.create(team=ingest, service_account=account)
        everyone.grants.create(permission="metrics:ingest")
        account.permission_grants.create(permission="metrics:ingest")
        html = section(page_text(admin_client.get(page_of(account))), "sa-effective")
        row = html[html.index("<code>metrics:ingest</code>") :]
        row = row[: row.index("</tr>")]
        assert "Push metrics" in row
        assert row.index("Individual") < row.index("Team: Everyone") < row.index("Team: Ingest")

    def test_an_admin_account_holds_everything_by_its_role(self, admin_client, make_account):
        boss = make_account("boss", role=Role.ADMIN)
        html = section(page_text(admin_client.get(page_of(boss))), "sa-effective")
        assert html.count("Role: Admin") == 7  # every built-in permission
        assert "serviceaccount" in html

    def test_none_yet(self, admin_client, account):
        html = section(page_text(admin_client.get(page_of(account))), "sa-effective")
        assert "None yet" in html

    def test_a_role_change_refreshes_them(self, admin_client, account):
        response = admin_client.post(f"{page_of(account)}/role", {"role": "Admin"}, **HTMX)
        assert triggered(response) == ["serviceAccountRoleChanged"]
        html = page_text(admin_client.get(page_of(account), **htmx_to("sa-effective")))
        assert "serviceAccountRoleChanged from:body" in html
        assert "Role: Admin" in html
        refused = admin_client.post(f"{page_of(account)}/role", {"role": "Owner"}, **HTMX)
        assert triggered(refused) == []


class TestList:
    def test_the_teams_column(self, admin_client, account, ingest, org_admin, make_account):
        team_member_add(identity=org_admin, team=ingest, service_account=account)
        make_account("loner")
        html = page_text(admin_client.get("/org/serviceaccounts"))
        assert '<th class="hide-narrow">Teams</th>' in html
        row = html[html.index(f'id="sa-row-{account.pk}"') :]
        row = row[: row.index("</tr>")]
        assert '<li class="chip">Everyone</li><li class="chip">Ingest</li>' in row
        assert html.count('<li class="chip">Everyone</li>') == 2

    def test_the_teams_column_costs_one_query_per_page(
        self, admin_client, make_account, org_admin, django_assert_num_queries
    ):
        teams = [team_create(identity=org_admin, name=f"Team {n}") for n in range(3)]
        make_account("solo")
        # Session, user, org, membership, count, page of accounts, their teams, the org
        # switcher, the nav's count of expiring tokens.
        with django_assert_num_queries(9):
            admin_client.get("/org/serviceaccounts")
        for number in range(49):
            bot = make_account(f"bot {number}")
            for team in teams[: number % 4]:
                team_member_add(identity=org_admin, team=team, service_account=bot)
        with django_assert_num_queries(9):
            response = admin_client.get("/org/serviceaccounts")
        assert response.content.count(b'<tr id="sa-row-') == 50
        assert response.content.count(b'<li class="chip">Team 2</li>') == 12


class TestNavigation:
    def test_admins_see_every_page(self, admin_client):
        nav = admin_client.get("/org/serviceaccounts").content.decode()
        for href in ("/org/users", "/org/teams", "/org/permissions"):
            assert f'href="{href}"' in nav

    @pytest.mark.parametrize(
        ("permission", "shown", "hidden"),
        [
            ("users:write", ["/org/users"], ["/org/teams", "/org/permissions"]),
            ("teams:write", ["/org/users", "/org/teams", "/org/permissions"], []),
            ("serviceaccounts:read", [], ["/org/users", "/org/teams", "/org/permissions"]),
        ],
    )
    def test_others_see_what_they_may_use(self, editor, permission, shown, hidden):
        grant(editor, permission)
        nav = signed_in(editor).get("/profile").content.decode()
        for href in shown:
            assert f'href="{href}"' in nav
        for href in hidden:
            assert f'href="{href}"' not in nav

    @pytest.mark.parametrize(
        ("permissions", "home"),
        [
            (("users:write",), "/org/users"),
            (("users:write", "teams:write"), "/org/teams"),
            (("teams:write", "serviceaccounts:read"), "/org/serviceaccounts"),
            ((), "/profile"),
        ],
    )
    def test_home_is_the_first_page_they_may_use(self, editor, permissions, home):
        grant(editor, *permissions)
        assert signed_in(editor).get("/").url == home

    def test_the_current_page_is_marked(self, admin_client):
        html = admin_client.get("/org/teams").content.decode()
        assert '<a href="/org/teams" aria-current="page">Teams</a>' in html
