"""Server admin → Organizations and Users: server admins only, every change through the same
services as the API (the last Admin, the last server admin), deletion cascades, disabling
ends sessions and Basic auth; and Django's admin site, off unless turned on, then read-only."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django.test import Client

from accounts.errors import Refusal
from accounts.models import MAIN_ORG_ID, Membership, Organization, ServiceAccount, Team, User
from accounts.roles import Role
from apikeys.models import ApiKey
from tests.helpers import (
    HTMX,
    PASSWORD,
    SYSTEM,
    assert_password_rules_describe,
    basic_auth,
    htmx_from,
    in_parallel,
    make_user,
    needs_postgresql,
    page_text,
    signed_in,
)
from tokens.models import ServiceAccountToken
from tokens.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client(server_admin) -> Client:
    return signed_in(server_admin)


class TestAccess:
    @pytest.mark.parametrize("path", ["/admin/orgs", "/admin/users", "/admin/orgs/new"])
    def test_only_server_admins(self, path, admin, root_client):
        assert signed_in(admin).get(path).status_code == 403
        assert signed_in(admin).post(path, {"name": "x"}).status_code == 403
        assert Client().get(path).status_code == 302
        assert root_client.get(path).status_code == 200

    def test_the_sidebar_shows_server_admin_to_server_admins_only(self, admin, root_client):
        assert "Server admin" in page_text(root_client.get("/admin/orgs"))
        assert 'href="/admin/users"' in page_text(root_client.get("/admin/orgs"))
        assert 'href="/admin/users"' not in page_text(signed_in(admin).get("/profile"))


class TestOrganizations:
    def test_list_search_and_counts(self, root_client, org, other_org, admin, editor, make_account):
        make_account("bot")
        html = page_text(root_client.get("/admin/orgs"))
        row = html[html.index(f'id="org-row-{org.pk}"') :]
        cells = re.findall(r"<td>([^<]*)</td>", row[: row.index("</tr>")])
        assert cells == [str(org.pk), "2", "1"]  # id, members, service accounts
        searched = page_text(root_client.get("/admin/orgs", {"query": "GLOB"}))
        assert f'id="org-row-{other_org.pk}"' in searched
        assert f'id="org-row-{org.pk}"' not in searched

    def test_create(self, root_client, server_admin):
        response = root_client.post("/admin/orgs/new", {"name": "Initech"})
        org = Organization.objects.get(name="Initech")
        assert response["Location"] == f"/admin/orgs/{org.pk}"
        assert Team.objects.filter(org=org, is_everyone=True).exists()
        assert Membership.objects.get(org=org).user == server_admin
        taken = root_client.post("/admin/orgs/new", {"name": "initech"})
        assert "Organization name taken" in page_text(taken)
        assert Organization.objects.filter(name_key="initech").count() == 1

    def test_rename(self, root_client, org, other_org):
        root_client.post(f"/admin/orgs/{org.pk}", {"name": "Acme Corp"})
        org.refresh_from_db()
        assert org.name == "Acme Corp"
        refused = root_client.post(f"/admin/orgs/{org.pk}", {"name": "GLOBEX"})
        assert "Organization name taken" in page_text(refused)
        assert root_client.post(f"/admin/orgs/{org.pk}", {"name": " "}).status_code == 200
        org.refresh_from_db()
        assert org.name == "Acme Corp"

    def test_delete_says_what_goes_then_deletes_it_all(
        self, root_client, org, other_org, admin, editor, make_account, make_key, org_admin
    ):
        account = make_account("bot")
        token_create(identity=org_admin, account=account, name="t", expires_at=None)
        make_key("legacy")
        outsider = make_user("oscar", other_org, Role.ADMIN)
        question = page_text(root_client.get(f"/admin/orgs/{org.pk}/delete"))
        assert "Are you sure you want to delete the organization 'Acme'?" in question
        for part in (
            "2 memberships",
            "1 service account,",
            "1 service account token",
            "1 API key",
        ):
            assert part in question, part
        response = root_client.post(f"/admin/orgs/{org.pk}/delete")
        assert response["Location"] == "/admin/orgs"
        assert not Organization.objects.filter(pk=org.pk).exists()
        assert not ServiceAccount.objects.exists()
        assert not ServiceAccountToken.objects.exists()
        assert not ApiKey.objects.exists()
        assert not Team.objects.filter(org_id=org.pk).exists()
        assert not Membership.objects.filter(org_id=org.pk).exists()
        admin.refresh_from_db()
        assert admin.current_org is None  # the account stays
        assert Membership.objects.filter(user=outsider).exists()
        missing = root_client.get(f"/admin/orgs/{org.pk}")
        assert missing.status_code == 404
        assert 'href="/admin/orgs">Back to organizations</a>' in page_text(missing)
        assert "Back to service accounts" in page_text(root_client.get("/org/teams/999999"))

    def test_delete_works_with_htmx_too(self, root_client, org):
        dialog = root_client.get(f"/admin/orgs/{org.pk}/delete", **HTMX).content.decode()
        assert dialog.strip().startswith("<dialog")
        assert "hx-post" not in dialog  # the page behind goes away: a plain post
        root_client.post(f"/admin/orgs/{org.pk}/delete", **HTMX)
        assert not Organization.objects.filter(pk=org.pk).exists()


class TestUsers:
    def test_list_search_and_paging(self, root_client, admin, editor, monkeypatch):
        from accounts.serveradmin import views

        html = page_text(root_client.get("/admin/users"))
        assert "alice" in html
        assert "eddie" in html
        assert "Server admin" in html
        searched = page_text(root_client.get("/admin/users", {"query": "EDDIE@"}))
        assert "eddie" in searched
        assert "alice@example.com" not in searched
        monkeypatch.setattr(views, "PER_PAGE", 2)
        second = page_text(root_client.get("/admin/users", {"page": 2}))
        assert "Page 2 of 2" in second
        assert "root" in second

    def test_the_only_admins_remove_is_disabled_and_says_why(
        self, root_client, admin, org, other_org
    ):
        Membership.objects.create(user=admin, org=other_org, role=Role.ADMIN)  # beside oscar
        make_user("oscar", other_org, Role.ADMIN)
        page = f"/admin/users/{admin.pk}"
        html = page_text(root_client.get(page))
        assert f'href="{page}/orgs/{org.pk}/remove' not in html
        assert html.count("The only Admin: make another member Admin first.") == 1
        assert f'href="{page}/orgs/{other_org.pk}/remove' in html

    def test_the_new_user_form_names_the_org_new_users_join(self, root_client):
        Organization.objects.filter(pk=MAIN_ORG_ID).update(name="Headquarters")
        html = page_text(root_client.get("/admin/users/new"))
        assert "The new user joins <strong>Headquarters</strong> as a Viewer." in html

    def test_the_new_user_form_shows_the_password_rules(self, root_client):
        html = page_text(root_client.get("/admin/users/new"))
        assert_password_rules_describe(html, "id_password")

    def test_create(self, root_client, org):
        response = root_client.post(
            "/admin/users/new",
            {"login": "newbie", "email": "n@example.com", "name": "N", "password": PASSWORD},
        )
        user = User.objects.get(username="newbie")
        assert response["Location"] == f"/admin/users/{user.pk}"
        assert user.check_password(PASSWORD)
        weak = root_client.post("/admin/users/new", {"login": "weak", "password": "123"})
        assert "This password is too short" in page_text(weak)
        taken = root_client.post("/admin/users/new", {"login": "NEWBIE", "password": PASSWORD})
        assert "already exists" in page_text(taken)

    def test_create_shows_every_field_in_error_at_once(self, root_client):
        for password in ("", "1"):
            body = {"login": "bad\x07", "email": "not-an-address", "password": password}
            errors = root_client.post("/admin/users/new", body).context["form"].errors
            assert errors["login"] == ["Login cannot contain control characters."]
            assert errors["email"] == ["Enter a valid email address."]
            assert errors["password"][0] == (
                "This password is too short. It must contain at least 8 characters."
                if password
                else "This field is required."
            )
        body = {"login": "ROOT", "password": "a-long-and-unusual-passphrase"}
        errors = root_client.post("/admin/users/new", body).context["form"].errors
        assert errors == {"login": ["A user with this login already exists."]}

    def test_create_names_a_taken_login_and_a_taken_address_beside_the_other_errors(
        self, root_client, admin
    ):
        body = {"login": "ALICE", "email": "Alice@Example.com", "password": "1"}
        errors = root_client.post("/admin/users/new", body).context["form"].errors
        assert errors["login"] == ["A user with this login already exists."]
        assert errors["email"] == ["A user with this e-mail address already exists."]
        assert errors["password"][0].startswith("This password is too short.")
        body = {"login": "someone-new", "email": "ALICE@example.com", "password": PASSWORD}
        errors = root_client.post("/admin/users/new", body).context["form"].errors
        assert errors == {"email": ["A user with this e-mail address already exists."]}
        assert not User.objects.filter(username="someone-new").exists()

    def test_edit_name_and_email(self, root_client, admin, editor):
        root_client.post(f"/admin/users/{editor.pk}", {"name": "Ed", "email": "ed@example.com"})
        editor.refresh_from_db()
        assert (editor.name, editor.email) == ("Ed", "ed@example.com")
        taken = root_client.post(
            f"/admin/users/{editor.pk}", {"name": "Ed", "email": "ALICE@example.com"}
        )
        assert "already exists" in page_text(taken)
        bad = root_client.post(f"/admin/users/{editor.pk}", {"name": "Ed", "email": "nope"})
        assert "Enter a valid email address." in page_text(bad)
        editor.refresh_from_db()
        assert editor.email == "ed@example.com"

    def test_disable_ends_sessions_and_basic_auth_then_enable(self, root_client, editor):
        session = signed_in(editor)
        assert session.get("/profile").status_code == 200
        assert Client().get("/api/user", **basic_auth("eddie")).status_code == 200
        question = page_text(root_client.get(f"/admin/users/{editor.pk}/disable"))
        assert "They are logged out at once" in question
        root_client.post(f"/admin/users/{editor.pk}/disable")
        assert session.get("/profile").status_code == 302
        assert Client().get("/api/user", **basic_auth("eddie")).status_code == 401
        login = Client().post("/login", {"username": "eddie", "password": PASSWORD})
        assert "Invalid username or password." in page_text(login)
        assert "Disabled" in page_text(root_client.get("/admin/users"))
        root_client.post(f"/admin/users/{editor.pk}/enable")
        assert Client().get("/api/user", **basic_auth("eddie")).status_code == 200

    def test_nobody_disables_themselves(self, root_client, server_admin):
        refused = root_client.post(f"/admin/users/{server_admin.pk}/disable")
        assert "You cannot disable yourself" in page_text(refused)
        server_admin.refresh_from_db()
        assert server_admin.is_active

    def test_grant_and_revoke_server_admin_never_the_last(self, root_client, server_admin, editor):
        refused = root_client.post(f"/admin/users/{server_admin.pk}/revoke-server-admin")
        assert "Cannot take away the last server admin" in page_text(refused)
        root_client.post(f"/admin/users/{editor.pk}/grant-server-admin")
        editor.refresh_from_db()
        assert editor.is_superuser
        assert signed_in(editor).get("/admin/users").status_code == 200
        root_client.post(f"/admin/users/{server_admin.pk}/revoke-server-admin")
        server_admin.refresh_from_db()
        assert not server_admin.is_superuser
        assert root_client.get("/admin/users").status_code == 403

    def test_a_disabled_server_admin_does_not_count(self, root_client, server_admin, editor):
        editor.is_superuser = True
        editor.is_active = False
        editor.save()
        refused = root_client.post(f"/admin/users/{server_admin.pk}/revoke-server-admin")
        assert "Cannot take away the last server admin" in page_text(refused)

    def test_memberships_role_add_and_remove_keep_the_last_admin(
        self, root_client, org, other_org, admin, editor
    ):
        html = page_text(root_client.get(f"/admin/users/{admin.pk}"))
        assert "Acme" in html
        assert "Role of Acme" in html
        refused = root_client.post(
            f"/admin/users/{admin.pk}/orgs/{org.pk}/role", {"role": "Viewer"}
        )
        assert refused.status_code == 400
        assert "no organization admin left" in page_text(refused)
        root_client.post(f"/admin/users/{editor.pk}/orgs/{org.pk}/role", {"role": "Admin"})
        assert Membership.objects.get(user=editor, org=org).role == Role.ADMIN
        root_client.post(
            f"/admin/users/{editor.pk}/orgs/add", {"org": other_org.pk, "role": "Viewer"}
        )
        assert Membership.objects.get(user=editor, org=other_org).role == Role.VIEWER
        root_client.post(f"/admin/users/{editor.pk}/orgs/{other_org.pk}/remove")
        assert not Membership.objects.filter(user=editor, org=other_org).exists()
        root_client.post(f"/admin/users/{editor.pk}/orgs/{org.pk}/role", {"role": "Viewer"})
        refused = root_client.post(f"/admin/users/{admin.pk}/orgs/{org.pk}/remove")
        assert "Cannot remove the last organization admin" in page_text(refused)
        assert Membership.objects.filter(user=admin, org=org).exists()

    def test_send_password_reset_link(self, root_client, editor):
        question = page_text(root_client.get(f"/admin/users/{editor.pk}/password-reset"))
        assert "eddie@example.com" in question
        root_client.post(f"/admin/users/{editor.pk}/password-reset")
        (message,) = mail.outbox
        assert message.to == ["eddie@example.com"]
        assert "/login/reset/" in message.body
        editor.email = ""
        editor.save()
        refused = root_client.post(f"/admin/users/{editor.pk}/password-reset")
        assert "e-mail address" in page_text(refused)

    def test_refusals_show_in_the_dialog_with_htmx(self, root_client, server_admin, editor):
        editor.email = ""
        editor.save()
        for user, action, refusal in (
            (server_admin, "disable", "You cannot disable yourself"),
            (editor, "password-reset", "Only an enabled user with an e-mail address"),
        ):
            page = f"/admin/users/{user.pk}"
            refused = root_client.post(f"{page}/{action}", {"next": page}, **htmx_from(page))
            assert refused["HX-Retarget"] == "#dialog-host"
            assert '<p class="alert alert-error" role="alert">' + refusal in page_text(refused)

    def test_dialog_actions_reload_the_page_with_htmx(self, root_client, editor):
        response = root_client.post(f"/admin/users/{editor.pk}/disable", **HTMX)
        assert response["HX-Refresh"] == "true"

    def test_unknown_user_is_a_404(self, root_client):
        missing = root_client.get("/admin/users/999999")
        assert missing.status_code == 404
        assert '<a class="btn btn-secondary" href="/admin/users">Back to users</a>' in page_text(
            missing
        )
        assert root_client.get("/admin/users/x").status_code == 404


class TestDjangoAdmin:
    def test_off_by_default(self, root_client, settings):
        assert settings.KEYHOUSE_DJANGO_ADMIN is False
        assert root_client.get("/django-admin/").status_code == 404

    def test_when_on_keyhouse_models_are_read_only(
        self, django_admin_site, root_client, org, admin
    ):
        assert root_client.get("/django-admin/").status_code == 200
        change = f"/django-admin/accounts/organization/{org.pk}/change/"
        assert root_client.get(change).status_code == 200
        assert root_client.get("/django-admin/accounts/organization/add/").status_code == 403
        response = root_client.post(change, {"name": "Hacked", "api_keys_migrated_at": ""})
        assert response.status_code == 403
        assert (
            root_client.post(
                f"/django-admin/accounts/user/{admin.pk}/delete/", {"post": "yes"}
            ).status_code
            == 403
        )
        org.refresh_from_db()
        assert org.name == "Acme"
        assert User.objects.filter(pk=admin.pk).exists()


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_server_admins_revoking_each_other_leave_one(monkeypatch, server_admin):
    from accounts import services

    other = make_user("rita", None, None, is_superuser=True, is_staff=True)
    original = services._lock_server_admins

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(0.2)  # without the lock, both would count two admins and go ahead
        return result

    monkeypatch.setattr(services, "_lock_server_admins", slow)
    targets = iter([server_admin.pk, other.pk])

    def revoke() -> str:
        user = User.objects.get(pk=next(targets))
        try:
            services.user_set_server_admin(actor=SYSTEM, user=user, is_server_admin=False)
        except Refusal as exc:
            return exc.message
        return "revoked"

    results = in_parallel(2, revoke)
    assert sorted(results) == sorted(["revoked", services.LAST_SERVER_ADMIN])
    assert User.objects.filter(is_superuser=True).count() == 1
