"""Configuration → Users (Grafana's "Organization users"): the members with an inline role
select, adding an existing user by login or e-mail, removing one after a confirmation, and the
services' refusals (the last Admin, the role ceiling) shown where the change was asked for."""

import pytest

from accounts.models import Membership, TeamMember
from accounts.roles import Role
from accounts.teams.services import team_create, team_member_add
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

PAGE = "/org/users"


def role_of(user, org) -> str:
    return Membership.objects.get(user=user, org=org).role


@pytest.fixture
def loner(db):
    """A user of this server who belongs to no org yet."""
    return make_user("lou", None, None, name="Lou Reed")


class TestList:
    def test_lists_members_like_grafana(self, admin_client, admin, editor, viewer):
        html = page_text(admin_client.get(PAGE))
        assert "Organization users" in html
        assert "Search login, email, or name" in html
        header = html[html.index("<thead>") : html.index("</thead>")]
        for column in ("Login", "Email", "Name", "Seen", "Role"):
            assert f">{column}</th>" in header
        row = html[html.index(f'id="user-row-{admin.pk}"') :]
        row = row[: row.index("</tr>")]
        assert "alice" in row
        assert "You" in row
        assert "ago</time>" in row  # signed in just now
        assert "Role of eddie" in html
        assert f'href="/org/users/{viewer.pk}/remove?next=/org/users"' in html
        assert "Add user" in html

    def test_live_search_by_login_email_or_name(self, admin_client, editor, viewer, org):
        make_user("zed", org, Role.VIEWER, name="Zed Shaw")
        for query in ("EDD", "eddie@example", "ddi"):
            html = admin_client.get(PAGE, {"query": query}, **htmx_to("user-results")).content
            assert html.decode().strip().startswith('<div id="user-results"')
            assert b"eddie" in html
            assert b"vera" not in html
        assert b"zed" in admin_client.get(PAGE, {"query": "shaw"}).content
        assert b"No users found." in admin_client.get(PAGE, {"query": "nobody-at-all"}).content

    def test_another_orgs_members_are_not_listed(self, admin_client, outsider):
        assert b"oscar" not in admin_client.get(PAGE).content

    def test_an_editor_with_users_write_cannot_touch_admins(self, editor, admin, viewer):
        grant(editor, "users:write")
        html = page_text(signed_in(editor).get(PAGE))
        assert "Role of vera" in html
        assert "Role of alice" not in html
        assert "Remove alice" not in html
        assert '<option value="Admin"' not in html  # the role ceiling

    def test_a_team_manager_sees_the_members_without_controls(self, editor, viewer):
        grant(editor, "teams:write")
        html = page_text(signed_in(editor).get(PAGE))
        assert "vera" in html
        for control in ("Role of vera", "Remove vera", "Add user"):
            assert control not in html


class TestAdd:
    @pytest.mark.parametrize("login", ["lou", "LOU@example.com", " lou@example.com "])
    def test_add_by_login_or_email_with_htmx(self, admin_client, loner, org, login):
        response = admin_client.post(
            f"{PAGE}/add", {"login_or_email": login, "role": "Editor"}, **HTMX
        )
        html = page_text(response)
        assert html.strip().startswith('<section class="card" id="org-user-add"')
        assert "Added 'lou' to Acme as Editor." in html
        assert triggered(response) == ["orgUsersChanged"]
        assert role_of(loner, org) == Role.EDITOR
        loner.refresh_from_db()
        assert loner.current_org == org

    def test_add_without_javascript(self, admin_client, loner, org):
        response = admin_client.post(f"{PAGE}/add", {"login_or_email": "lou", "role": "Viewer"})
        assert response.url == PAGE
        assert "Added 'lou' to Acme as Viewer." in page_text(admin_client.get(PAGE))

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"login_or_email": "ghost", "role": "Viewer"}, "User not found"),
            ({"login_or_email": "eddie", "role": "Viewer"}, "already member of this organization"),
            ({"login_or_email": "", "role": "Viewer"}, "This field is required."),
            ({"login_or_email": "lou", "role": "Owner"}, "Select a valid choice."),
            ({"login_or_email": "lo\x00u", "role": "Viewer"}, "Null characters are not allowed."),
        ],
    )
    def test_refusals_are_form_errors(self, admin_client, editor, loner, data, error):
        assert error in page_text(admin_client.post(f"{PAGE}/add", data, **HTMX))
        full = admin_client.post(f"{PAGE}/add", data)
        assert full.status_code == 200
        assert "<html" in page_text(full)
        assert error in page_text(full)
        assert not Membership.objects.filter(user=loner).exists()

    def test_nobody_adds_a_member_above_their_own_role(self, editor, loner):
        grant(editor, "users:write")
        html = page_text(
            signed_in(editor).post(f"{PAGE}/add", {"login_or_email": "lou", "role": "Admin"})
        )
        assert "Select a valid choice." in html
        assert not Membership.objects.filter(user=loner).exists()


class TestRole:
    def test_change_a_role_inline(self, admin_client, editor, org):
        url = f"{PAGE}/{editor.pk}/role"
        response = admin_client.post(url, {"role": "Viewer", "next": PAGE}, **HTMX)
        html = page_text(response)
        assert html.strip().startswith('<form class="role-picker"')
        assert "Saved" in html
        assert '<option value="Viewer" selected>' in html
        assert role_of(editor, org) == Role.VIEWER

    def test_change_a_role_without_javascript(self, admin_client, editor, org):
        url = f"{PAGE}/{editor.pk}/role"
        response = admin_client.post(url, {"role": "Admin", "next": f"{PAGE}?query=edd"})
        assert response.url == f"{PAGE}?query=edd"
        assert role_of(editor, org) == Role.ADMIN

    def test_the_last_admin_is_refused_inline(self, admin_client, admin, org):
        url = f"{PAGE}/{admin.pk}/role"
        html = page_text(admin_client.post(url, {"role": "Editor"}, **HTMX))
        assert "Cannot change role so that there is no organization admin left" in html
        assert 'aria-invalid="true"' in html
        assert '<option value="Admin" selected>' in html  # the select shows the truth again
        assert role_of(admin, org) == Role.ADMIN

    def test_the_last_admin_without_javascript_shows_on_the_list(self, admin_client, admin):
        url = f"{PAGE}/{admin.pk}/role"
        response = admin_client.post(url, {"role": "Viewer", "next": f"{PAGE}?query=ali"})
        assert response.status_code == 200
        html = page_text(response)
        assert "<html" in html
        assert 'value="ali"' in html  # the list the form came from
        row = html[html.index(f'id="user-row-{admin.pk}"') :]
        assert "Cannot change role so that there is no organization admin left" in row

    def test_unknown_roles_and_other_orgs(self, admin_client, editor, outsider, org):
        url = f"{PAGE}/{editor.pk}/role"
        assert "Choose one of the offered roles." in page_text(
            admin_client.post(url, {"role": "Owner"}, **HTMX)
        )
        assert role_of(editor, org) == Role.EDITOR
        assert admin_client.post(f"{PAGE}/{outsider.pk}/role", {"role": "Viewer"}).status_code == (
            404
        )

    def test_an_editor_cannot_change_an_admin(self, editor, admin, org):
        grant(editor, "users:write")
        html = page_text(
            signed_in(editor).post(f"{PAGE}/{admin.pk}/role", {"role": "Viewer"}, **HTMX)
        )
        assert "Cannot change a member whose role is higher than yours" in html
        assert role_of(admin, org) == Role.ADMIN


class TestRemove:
    def test_asks_then_removes_with_team_memberships(self, admin_client, editor, org, org_admin):
        team = team_create(identity=org_admin, name="Ops")
        team_member_add(identity=org_admin, team=team, user=editor)
        url = f"{PAGE}/{editor.pk}/remove"
        dialog = page_text(admin_client.get(url, {"next": PAGE}, **htmx_from(PAGE)))
        assert "Remove user" in dialog
        assert "remove 'eddie' from Acme? They lose access to it and leave its teams." in dialog
        response = admin_client.post(url, {"next": PAGE}, **htmx_from(PAGE))
        assert triggered(response) == ["orgUsersChanged"]
        assert "Removed 'eddie' from Acme." in page_text(response)
        assert not Membership.objects.filter(user=editor).exists()
        assert not TeamMember.objects.exists()

    def test_remove_without_javascript(self, admin_client, viewer):
        url = f"{PAGE}/{viewer.pk}/remove"
        assert "<html" in admin_client.get(url).content.decode()
        assert admin_client.post(url, {"next": PAGE}).url == PAGE
        assert not Membership.objects.filter(user=viewer).exists()

    def test_the_only_admins_remove_button_is_disabled_and_says_why(
        self, admin_client, admin, editor, org
    ):
        remove = f'href="/org/users/{admin.pk}/remove'
        html = page_text(admin_client.get("/org/users"))
        assert remove not in html
        assert "The only Admin: make another member Admin first." in html
        assert f'href="/org/users/{editor.pk}/remove' in html
        admin_client.post(f"/org/users/{editor.pk}/role", {"role": "Admin"})
        html = page_text(admin_client.get("/org/users"))
        assert remove in html
        assert "The only Admin" not in html

    def test_the_last_admin_is_refused_in_the_dialog(self, admin_client, admin, org):
        url = f"{PAGE}/{admin.pk}/remove"
        dialog = page_text(admin_client.get(url, **htmx_from(PAGE)))
        assert "Are you sure you want to leave Acme?" in dialog
        response = admin_client.post(url, **htmx_from(PAGE))
        assert response["HX-Retarget"] == "#dialog-host"
        assert "Cannot remove the last organization admin" in page_text(response)
        full = admin_client.post(url)
        assert full.status_code == 200
        assert "Cannot remove the last organization admin" in page_text(full)
        assert role_of(admin, org) == Role.ADMIN

    def test_an_admin_leaving_goes_home(self, admin_client, admin, org):
        make_user("second", org, Role.ADMIN)
        response = admin_client.post(f"{PAGE}/{admin.pk}/remove", {"next": PAGE})
        assert response.url == "/"
        assert not Membership.objects.filter(user=admin).exists()

    def test_an_editor_cannot_remove_an_admin(self, editor, admin, org):
        grant(editor, "users:write")
        response = signed_in(editor).post(f"{PAGE}/{admin.pk}/remove")
        assert "Cannot change a member whose role is higher than yours" in page_text(response)
        assert role_of(admin, org) == Role.ADMIN

    def test_another_orgs_member_is_404(self, admin_client, outsider):
        assert admin_client.get(f"{PAGE}/{outsider.pk}/remove").status_code == 404
        assert admin_client.post(f"{PAGE}/{outsider.pk}/remove").status_code == 404
        assert Membership.objects.filter(user=outsider).exists()
