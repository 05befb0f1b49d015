"""Invitations: Grafana's /api/org/invites (grafana-client has no invite calls, so plain
requests), the Invite form and pending invites on Configuration → Users, and the page the
mailed link opens (a new account, or an existing one signing in)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.errors import Refusal
from accounts.invites.models import Invite, invite_digest
from accounts.models import Membership, User
from accounts.roles import Role
from tests.helpers import (
    PASSWORD,
    assert_password_rules_describe,
    call,
    grant,
    htmx_to,
    in_parallel,
    make_user,
    needs_postgresql,
    page_text,
    signed_in,
    triggered,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase"


def invite(body: dict, as_user: str = "alice", client: Client | None = None):
    """POST /api/org/invites, mailing the link unless the body says otherwise."""
    body = {"sendEmail": True, **body}
    return call(client or Client(), "POST", "/api/org/invites", body, as_user=as_user)


def mailed_link(message=None) -> str:
    message = message or mail.outbox[-1]
    return re.search(r"http://testserver(/invite/\S+)", message.body).group(1)


def accept_page(link: str, client: Client | None = None) -> tuple[Client, str]:
    client = client or Client()
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == "/invite/accept"
    return client, page_text(client.get("/invite/accept"))


class TestApi:
    def test_create_sends_a_mail_and_lists_the_invite(self, admin, org):
        response = invite({"loginOrEmail": "new@example.com", "name": "New", "role": "Editor"})
        assert response.status_code == 200
        assert response.json()["message"] == "Sent invite to new@example.com"
        assert "url" not in response.json()
        (message,) = mail.outbox
        assert message.to == ["new@example.com"]
        assert "Acme" in message.subject
        html, kind = message.alternatives[0]
        assert kind == "text/html"
        link = mailed_link(message)
        assert link in message.body
        assert link in html
        listed = call(Client(), "GET", "/api/org/invites").json()
        assert [(i["email"], i["name"], i["role"], i["status"]) for i in listed] == [
            ("new@example.com", "New", "Editor", "InvitePending")
        ]
        assert listed[0]["invitedByLogin"] == "alice"
        assert listed[0]["emailSent"] is True
        assert listed[0]["orgId"] == org.pk
        assert listed[0]["code"] == response.json()["code"]
        assert listed[0]["url"] == ""

    def test_without_mail_the_link_is_in_the_answer_once(self, admin):
        body = {"loginOrEmail": "quiet@example.com", "role": "Viewer"}  # Grafana's default
        response = call(Client(), "POST", "/api/org/invites", body)
        assert response.json()["message"] == "Created invite for quiet@example.com"
        assert response.json()["url"].startswith("http://testserver/invite/")
        assert response["Cache-Control"] == "no-store"
        assert not mail.outbox
        assert call(Client(), "GET", "/api/org/invites").json()[0]["emailSent"] is False

    def test_only_the_digest_is_stored(self, admin):
        url = invite(
            {"loginOrEmail": "d@example.com", "role": "Viewer", "sendEmail": False}
        ).json()["url"]
        secret = url.rsplit("/", 1)[1]
        stored = Invite.objects.get()
        assert stored.digest == invite_digest(secret)
        row = str(list(Invite.objects.values()))
        assert secret not in row
        assert stored.code not in secret

    def test_revoke_by_code(self, admin):
        code = invite({"loginOrEmail": "r@example.com", "role": "Viewer"}).json()["code"]
        link = mailed_link()
        response = call(Client(), "DELETE", f"/api/org/invites/{code}/revoke")
        assert response.json() == {"message": "Invite revoked"}
        assert call(Client(), "GET", "/api/org/invites").json() == []
        assert call(Client(), "DELETE", f"/api/org/invites/{code}/revoke").status_code == 404
        _, html = accept_page(link)
        assert "not valid" in html

    def test_another_orgs_invite_cannot_be_revoked(self, admin, outsider):
        code = invite({"loginOrEmail": "r@example.com", "role": "Viewer"}).json()["code"]
        assert (
            call(Client(), "DELETE", f"/api/org/invites/{code}/revoke", as_user="oscar").status_code
            == 404
        )
        assert Invite.objects.pending().count() == 1

    def test_role_ceiling(self, editor):
        grant(editor, "users:write")
        response = invite({"loginOrEmail": "x@example.com", "role": "Admin"}, as_user="eddie")
        assert response.status_code == 403
        assert response.json()["message"] == "Cannot assign a role higher than user's role"
        assert (
            invite({"loginOrEmail": "x@example.com", "role": "Editor"}, as_user="eddie").status_code
            == 200
        )
        assert not Invite.objects.filter(role=Role.ADMIN).exists()

    def test_needs_users_write(self, viewer):
        assert (
            invite({"loginOrEmail": "x@example.com", "role": "None"}, as_user="vera").status_code
            == 403
        )
        assert call(Client(), "GET", "/api/org/invites", as_user="vera").status_code == 403

    def test_a_member_cannot_be_invited_again(self, admin, editor):
        for login_or_email in ("EDDIE@example.com", "eddie"):
            response = invite({"loginOrEmail": login_or_email, "role": "Viewer"})
            assert response.status_code == 409
            assert response.json()["message"] == "User is already member of this organization"
        assert not Invite.objects.exists()
        assert not mail.outbox

    def test_a_member_without_an_address_is_named_a_member(self, admin, org):
        for login, role in (("lou", Role.VIEWER), ("ned", None)):
            User.objects.filter(pk=make_user(login, org, role).pk).update(email="")
        response = invite({"loginOrEmail": "lou", "role": "Viewer"})
        assert response.status_code == 409
        assert response.json()["message"] == "User is already member of this organization"
        response = invite({"loginOrEmail": "ned", "role": "Viewer"})
        assert response.status_code == 400
        assert response.json()["message"] == "The user 'ned' has no e-mail address to invite."

    def test_bad_input_is_a_400(self, admin):
        for body in (
            {"loginOrEmail": "not an address", "role": "Viewer"},
            {"loginOrEmail": "", "role": "Viewer"},
            {"loginOrEmail": "x@example.com", "role": "Boss"},
            {"loginOrEmail": "x@example.com"},
            {"loginOrEmail": 5, "role": "Viewer"},
            {"loginOrEmail": "x@example.com", "role": "Viewer", "sendEmail": "yes"},
        ):
            assert invite(body).status_code == 400, body
        assert not Invite.objects.exists()

    def test_a_token_cannot_invite(self, admin, make_account, org_admin):
        from tokens.services import token_create

        account = make_account("bot", role=Role.ADMIN)
        _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
        response = Client().post(
            "/api/org/invites",
            {"loginOrEmail": "x@example.com", "role": "Viewer"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        assert response.status_code == 403
        assert not Invite.objects.exists()

    def test_inviting_again_replaces_the_pending_invite(self, admin):
        invite({"loginOrEmail": "twice@example.com", "role": "Viewer"})
        first = mailed_link()
        invite({"loginOrEmail": "Twice@example.com", "role": "Editor"})
        assert len(call(Client(), "GET", "/api/org/invites").json()) == 1
        _, html = accept_page(first)
        assert "not valid" in html
        _, html = accept_page(mailed_link())
        assert "as Editor" in html

    def test_a_failing_mail_server_saves_nothing(self, admin, settings):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
        response = invite({"loginOrEmail": "x@example.com", "role": "Viewer"})
        assert response.status_code == 502
        assert not Invite.objects.exists()


class TestAccept:
    def test_a_new_user_picks_a_password_and_joins_with_the_role(self, admin, org):
        invite({"loginOrEmail": "new@example.com", "name": "Nina", "role": "Editor"})
        client, html = accept_page(mailed_link())
        assert "Join Acme" in html
        assert "as Editor" in html
        assert "Create your account" in html
        assert_password_rules_describe(html, "id_password1")
        weak = client.post("/invite/accept", {"password1": "123", "password2": "123"})
        assert "This password is too short" in page_text(weak)
        body = {"login": "a\x07", "password1": "1", "password2": "2"}
        errors = client.post("/invite/accept", body).context["new_form"].errors
        assert errors["login"] == ["Login cannot contain control characters."]
        assert "This password is too short" in errors["password1"][0]
        assert errors["password2"] == ["The two passwords differ."]
        response = client.post(
            "/invite/accept",
            {"login": "nina", "name": "Nina", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 302
        assert response["Location"] == "/"
        user = User.objects.get(username="nina")
        assert user.email == "new@example.com"
        assert user.check_password(NEW_PASSWORD)
        assert Membership.objects.get(user=user).role == Role.EDITOR
        assert Membership.objects.get(user=user).org == org
        assert client.get("/profile").status_code == 200  # signed in
        assert Invite.objects.get().accepted_by == user

    def test_the_login_defaults_to_the_address(self, admin):
        invite({"loginOrEmail": "plain@example.com", "role": "Viewer"})
        client, _ = accept_page(mailed_link())
        client.post("/invite/accept", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert User.objects.filter(username="plain@example.com").exists()

    def test_an_existing_user_signs_in_and_joins(self, admin, other_org, org):
        lou = make_user("lou", other_org, Role.VIEWER)
        invite({"loginOrEmail": "lou", "role": "Viewer"})
        assert mail.outbox[0].to == ["lou@example.com"]
        client, html = accept_page(mailed_link())
        assert "Log in to accept" in html
        assert "lou" in html
        wrong = client.post("/invite/accept", {"password": "nope"})
        assert "Invalid password." in page_text(wrong)
        assert not Membership.objects.filter(user=lou, org=org).exists()
        response = client.post("/invite/accept", {"password": PASSWORD})
        assert response.status_code == 302
        assert Membership.objects.get(user=lou, org=org).role == Role.VIEWER
        lou.refresh_from_db()
        assert lou.current_org == org

    def test_an_existing_user_already_signed_in_accepts_with_one_click(self, admin, other_org, org):
        lou = make_user("lou", other_org, Role.VIEWER)
        invite({"loginOrEmail": "lou@example.com", "role": "Editor"})
        client, html = accept_page(mailed_link(), signed_in(lou))
        assert "Accept invitation" in html
        client.post("/invite/accept")
        assert Membership.objects.get(user=lou, org=org).role == Role.EDITOR

    def test_someone_else_signed_in_cannot_accept(self, admin, editor, org):
        invite({"loginOrEmail": "new@example.com", "role": "Admin"})
        client, html = accept_page(mailed_link(), signed_in(editor))
        assert "but this invitation is for new@example.com" in html
        client.post("/invite/accept", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert Membership.objects.get(user=editor, org=org).role == Role.EDITOR
        assert not User.objects.filter(email="new@example.com").exists()

    def test_a_used_code_is_refused(self, admin):
        invite({"loginOrEmail": "once@example.com", "role": "Viewer"})
        link = mailed_link()
        client, _ = accept_page(link)
        client.post("/invite/accept", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        again, html = accept_page(link, Client())
        assert "not valid" in html
        assert again.get("/invite/accept").status_code == 404

    def test_an_expired_code_is_refused(self, admin):
        invite({"loginOrEmail": "late@example.com", "role": "Viewer"})
        Invite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        client, html = accept_page(mailed_link())
        assert "not valid" in html
        client.post("/invite/accept", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert not User.objects.filter(email="late@example.com").exists()
        assert call(Client(), "GET", "/api/org/invites").json() == []

    def test_invites_expire_after_the_configured_days(self, admin, settings):
        settings.KEYHOUSE_INVITE_DAYS = 2
        invite({"loginOrEmail": "x@example.com", "role": "Viewer"})
        left = Invite.objects.get().expires_at - timezone.now()
        assert timedelta(days=2) - timedelta(minutes=1) < left <= timedelta(days=2)

    def test_a_made_up_code_is_refused(self, db):
        _, html = accept_page("/invite/made-up")
        assert "not valid" in html
        assert Client().get("/invite/accept").status_code == 404

    def test_the_secret_is_not_in_the_pages_address_or_the_session(self, admin):
        invite({"loginOrEmail": "x@example.com", "role": "Viewer"})
        link = mailed_link()
        secret = link.rsplit("/", 1)[1]
        client, html = accept_page(link)
        assert secret not in html
        assert secret not in str(dict(client.session))


class TestPage:
    def test_invite_form_and_pending_invites(self, admin_client):
        html = page_text(admin_client.get("/org/users"))
        assert "Invite user" in html
        assert "No pending invites." in html
        response = admin_client.post(
            "/org/users/invite", {"login_or_email": "p@example.com", "name": "", "role": "Viewer"}
        )
        assert response.status_code == 302
        html = page_text(admin_client.get("/org/users"))
        assert "Sent an invitation to p@example.com" in html
        assert "p@example.com" in html[html.index("Pending invites") :]
        assert len(mail.outbox) == 1

    def test_invite_with_htmx_answers_the_form_and_refreshes_the_table(self, admin_client):
        response = admin_client.post(
            "/org/users/invite",
            {"login_or_email": "p@example.com", "role": "Viewer"},
            **htmx_to("org-invite"),
        )
        assert response.content.decode().strip().startswith('<section class="card" id="org-invite"')
        assert "within 7 days." in page_text(response)
        assert triggered(response) == ["orgInvitesChanged"]
        table = admin_client.get("/org/users", **htmx_to("org-invites")).content.decode()
        assert table.strip().startswith('<section class="card" id="org-invites"')
        assert "p@example.com" in table

    def test_refusals_show_on_the_form(self, admin_client, editor):
        response = admin_client.post(
            "/org/users/invite", {"login_or_email": "eddie", "role": "Viewer"}
        )
        assert response.status_code == 200
        assert "User is already member of this organization" in page_text(response)
        response = admin_client.post(
            "/org/users/invite", {"login_or_email": "nope", "role": "Viewer"}
        )
        assert "Enter an e-mail address or the login of an existing user." in page_text(response)

    def test_role_ceiling_offers_and_refuses(self, editor):
        grant(editor, "users:write")
        client = signed_in(editor)
        html = page_text(client.get("/org/users"))
        form = html[html.index('id="org-invite"') :]
        assert 'value="Admin"' not in form[: form.index("</form>")]
        response = client.post(
            "/org/users/invite", {"login_or_email": "x@example.com", "role": "Admin"}
        )
        assert response.status_code == 200
        assert not Invite.objects.exists()

    def test_revoke_asks_then_revokes(self, admin_client, admin):
        invite({"loginOrEmail": "r@example.com", "role": "Viewer"})
        code = Invite.objects.get().code
        question = page_text(admin_client.get(f"/org/users/invites/{code}/revoke"))
        assert "Revoke the invitation of r@example.com to Acme?" in question
        response = admin_client.post(f"/org/users/invites/{code}/revoke", {"next": "/org/users"})
        assert response.status_code == 302
        assert not Invite.objects.pending().exists()
        assert admin_client.get(f"/org/users/invites/{code}/revoke").status_code == 404

    def test_an_invite_above_the_callers_role_is_shown_without_revoke(self, admin, editor):
        invite({"loginOrEmail": "boss@example.com", "role": "Admin"})
        grant(editor, "users:write")
        client = signed_in(editor)
        html = page_text(client.get("/org/users"))
        assert "boss@example.com" in html
        assert "Revoke the invitation of boss@example.com" not in html
        code = Invite.objects.get().code
        client.post(f"/org/users/invites/{code}/revoke")
        assert Invite.objects.pending().exists()

    def test_viewers_see_no_invites(self, viewer, admin):
        invite({"loginOrEmail": "r@example.com", "role": "Viewer"})
        assert signed_in(viewer).get("/org/users").status_code == 403


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_accepting_one_code_twice_at_once_makes_one_membership(monkeypatch, admin, org, other_org):
    from accounts.invites import services

    lou = make_user("lou", other_org, Role.VIEWER)
    invite({"loginOrEmail": "lou", "role": "Editor"})
    digest = invite_digest(mailed_link().rsplit("/", 1)[1])
    original = services._lock_pending

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(0.2)  # without the lock, both would now decide on the same pending invite
        return result

    monkeypatch.setattr(services, "_lock_pending", slow)

    def accept() -> str:
        try:
            services.invite_accept_existing(
                digest=digest, user=User.objects.get(pk=lou.pk), address=None
            )
        except Refusal as exc:
            return exc.message
        return "accepted"

    results = in_parallel(2, accept)
    assert sorted(results) == sorted(["accepted", services.NOT_VALID])
    assert Membership.objects.filter(user=lou, org=org).count() == 1
    assert Invite.objects.get().accepted_by == lou
