"""Audit events of onboarding: org and user changes by server admins (server level, the
org's own for its creation and rename), invitations sent, revoked and accepted, and password
resets asked for; none carries a secret (the audit scan checks every event)."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.audit.models import ActorType
from accounts.errors import Refusal
from accounts.models import AuditEvent, Invite, Organization, User
from accounts.roles import Role
from accounts.services import user_set_server_admin
from tests.helpers import PASSWORD, SYSTEM, call, make_user, signed_in

pytestmark = pytest.mark.django_db


def only(action: str) -> AuditEvent:
    [event] = AuditEvent.objects.filter(action=action)
    return event


def target_of(event: AuditEvent) -> tuple:
    return (event.target_type, event.target_id, event.target_name)


def test_org_create_rename_delete_by_a_server_admin(server_admin):
    client = signed_in(server_admin)
    client.post("/admin/orgs/new", {"name": "Initech"})
    org = Organization.objects.get(name="Initech")
    created = only("org.create")
    assert (created.org_id, target_of(created)) == (org.pk, ("org", org.pk, "Initech"))
    assert (created.actor_type, created.actor_id, created.actor_name) == (
        ActorType.USER,
        server_admin.pk,
        "root",
    )
    assert created.address == "127.0.0.1"
    client.post(f"/admin/orgs/{org.pk}", {"name": "Initrode"})
    assert only("org.rename").details == {"name": {"from": "Initech", "to": "Initrode"}}
    client.post(f"/admin/orgs/{org.pk}/delete")
    deleted = only("org.delete")
    assert deleted.org_id is None  # the server's: the org's own log went with it
    assert target_of(deleted) == ("org", org.pk, "Initrode")
    assert "1 membership" in deleted.details["deleted"]


def test_user_create_update_disable_enable_and_server_admin(server_admin, editor):
    client = signed_in(server_admin)
    client.post("/admin/users/new", {"login": "newbie", "password": PASSWORD})
    created = only("user.create")
    assert (created.org_id, created.target_name) == (None, "newbie")
    client.post(f"/admin/users/{editor.pk}", {"name": "Ed", "email": "ed@example.com"})
    assert only("user.update").details == {
        "name": {"from": "", "to": "Ed"},
        "email": {"from": "eddie@example.com", "to": "ed@example.com"},
    }
    client.post(f"/admin/users/{editor.pk}/disable")
    client.post(f"/admin/users/{editor.pk}/enable")
    client.post(f"/admin/users/{editor.pk}/grant-server-admin")
    client.post(f"/admin/users/{editor.pk}/revoke-server-admin")
    for action in (
        "user.disable",
        "user.enable",
        "user.server-admin.grant",
        "user.server-admin.revoke",
    ):
        event = only(action)
        assert (event.org_id, target_of(event)) == (None, ("user", editor.pk, "eddie"))


def test_the_api_records_the_same_events(server_admin, editor, other_org):
    call(Client(), "PUT", f"/api/orgs/{other_org.pk}", {"name": "Globex 2"}, as_user="root")
    call(Client(), "POST", f"/api/admin/users/{editor.pk}/disable", as_user="root")
    assert only("org.rename").actor_id == server_admin.pk
    assert only("user.disable").target_id == editor.pk


def test_a_refused_change_writes_no_event(server_admin):
    with pytest.raises(Refusal):
        user_set_server_admin(actor=SYSTEM, user=server_admin, is_server_admin=False)
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()


def test_invite_create_revoke_accept(admin, org):
    body = {"loginOrEmail": "new@example.com", "role": "Editor", "sendEmail": True}
    code = call(Client(), "POST", "/api/org/invites", body).json()["code"]
    created = only("invite.create")
    assert (created.org_id, created.target_type, created.target_name, created.details) == (
        org.pk,
        "invite",
        "new@example.com",
        {"role": "Editor", "emailSent": True},
    )
    call(Client(), "DELETE", f"/api/org/invites/{code}/revoke")
    assert only("invite.revoke").target_name == "new@example.com"
    call(Client(), "POST", "/api/org/invites", body)
    link = re.search(r"http://testserver(/invite/\S+)", mail.outbox[-1].body).group(1)
    client = Client()
    client.get(link)
    password = "a-long-and-unusual-passphrase"
    client.post("/invite/accept", {"login": "nina", "password1": password, "password2": password})
    accepted = only("invite.accept")
    assert (accepted.org_id, accepted.actor_name, accepted.details) == (
        org.pk,
        "nina",
        {"role": "Editor", "newAccount": True},
    )
    assert accepted.target_id == Invite.objects.get(accepted_at__isnull=False).pk
    assert accepted.address == "127.0.0.1"  # the join's event: an accepted invite adds no other


def test_password_resets_asked_for(server_admin, editor):
    Client().post("/login/forgot", {"email": "eddie@example.com"})
    asked = only("user.password-reset")
    assert (asked.org_id, asked.actor_id, asked.actor_name, asked.target_id) == (
        None,
        None,
        "",
        editor.pk,
    )
    assert asked.address == "127.0.0.1"
    Client().post("/login/forgot", {"email": "ghost@example.com"})  # nobody: no event
    assert AuditEvent.objects.filter(action="user.password-reset").count() == 1
    signed_in(server_admin).post(f"/admin/users/{editor.pk}/password-reset")
    by_admin = AuditEvent.objects.filter(action="user.password-reset").last()
    assert by_admin.actor_id == server_admin.pk


def test_accepting_as_an_existing_user(admin, org, other_org):
    lou = make_user("lou", other_org, Role.VIEWER)
    call(
        Client(),
        "POST",
        "/api/org/invites",
        {"loginOrEmail": "lou", "role": "Viewer", "sendEmail": True},
    )
    client = signed_in(lou)
    client.get(re.search(r"http://testserver(/invite/\S+)", mail.outbox[-1].body).group(1))
    client.post("/invite/accept")
    accepted = only("invite.accept")
    assert (accepted.actor_id, accepted.details["newAccount"]) == (lou.pk, False)


def test_membership_changes_keep_the_address_on_every_path(server_admin, admin, org, other_org):
    for login in ("lou", "ned", "sam"):
        make_user(login, None, None)
    signed_in(admin).post("/org/users/add", {"login_or_email": "lou", "role": "Viewer"})
    call(Client(), "POST", "/api/org/users", {"loginOrEmail": "ned", "role": "Viewer"})
    root = signed_in(server_admin)
    sam = User.objects.get(username="sam")
    root.post(f"/admin/users/{sam.pk}/orgs/add", {"org": other_org.pk, "role": "Viewer"})
    root.post(f"/admin/users/{sam.pk}/orgs/{other_org.pk}/role", {"role": "Editor"})
    root.post(f"/admin/users/{sam.pk}/orgs/{other_org.pk}/remove")
    events = AuditEvent.objects.filter(action__startswith="orgmember.").order_by("pk")
    assert [(e.action, e.target_name, e.address) for e in events] == [
        ("orgmember.add", "lou", "127.0.0.1"),
        ("orgmember.add", "ned", "127.0.0.1"),
        ("orgmember.add", "sam", "127.0.0.1"),
        ("orgmember.update", "sam", "127.0.0.1"),
        ("orgmember.remove", "sam", "127.0.0.1"),
    ]
