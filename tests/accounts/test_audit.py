"""The audit log's events: each change writes one, with who did it (and from where) and what it
was done to, in the change's own transaction; sign-ins are recorded without their password."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone

from accounts.audit import services as audit_services
from accounts.audit.services import Actor, record
from accounts.errors import Conflict
from accounts.models import AuditEvent, Membership, ServiceAccount, Team
from accounts.roles import Role
from accounts.services import (
    membership_add,
    membership_remove,
    membership_update,
    service_account_create,
    service_account_delete,
    service_account_update,
)
from accounts.teams.services import (
    permission_create,
    permission_delete,
    service_account_permissions_set,
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
    team_permissions_set,
    team_update,
)
from apikeys.models import ApiKey
from apikeys.services import api_key_create, api_key_delete, hide_api_keys, migrate_keys
from tests.helpers import PASSWORD, SYSTEM, basic_auth, bearer, call, make_user, signed_in
from tokens.models import ServiceAccountToken
from tokens.services import (
    token_create,
    token_delete,
    token_rename,
    token_revoke,
    token_rotate,
)

pytestmark = pytest.mark.django_db


def events(action: str = "") -> list[AuditEvent]:
    found = AuditEvent.objects.order_by("id")
    return list(found.filter(action=action) if action else found)


def only(action: str) -> AuditEvent:
    [event] = events(action)
    return event


def actor_of(event: AuditEvent) -> tuple:
    return (event.actor_type, event.actor_id, event.actor_name)


def target_of(event: AuditEvent) -> tuple:
    return (event.target_type, event.target_id, event.target_name)


# --- Actors: who, and from where -------------------------------------------------------------


def test_a_user_in_the_browser_is_the_actor_with_their_address(admin, org):
    client = signed_in(admin, REMOTE_ADDR="192.0.2.7")
    client.post("/org/serviceaccounts/create", {"name": "ci bot", "role": "Viewer"})
    event = only("serviceaccount.create")
    account = ServiceAccount.objects.get()
    assert (event.org_id, actor_of(event)) == (org.pk, ("user", admin.pk, "alice"))
    assert target_of(event) == ("service-account", account.pk, "ci bot")
    assert event.address == "192.0.2.7"
    assert event.details == {"role": "Viewer", "isDisabled": False}


def test_a_token_on_the_api_acts_as_its_service_account(org, make_account, org_admin):
    robot = make_account("robot", role=Role.ADMIN)
    _, secret = token_create(identity=org_admin, account=robot, name="t", expires_at=None)
    client = Client(REMOTE_ADDR="198.51.100.3")
    response = client.post(
        "/api/serviceaccounts", {"name": "made by robot"}, "application/json", **bearer(secret)
    )
    assert response.status_code == 201
    event = events("serviceaccount.create")[-1]
    assert actor_of(event) == ("service-account", robot.pk, "robot")
    assert (event.org_id, event.address, event.target_name) == (
        org.pk,
        "198.51.100.3",
        "made by robot",
    )


def test_a_legacy_key_acts_as_itself(org, make_key):
    key, secret = make_key("old key", Role.ADMIN)
    response = Client().post(
        "/api/serviceaccounts", {"name": "by key"}, "application/json", **bearer(secret)
    )
    assert response.status_code == 201
    assert actor_of(events("serviceaccount.create")[-1]) == ("api-key", key.pk, "old key")


def test_a_management_command_is_the_system(org, make_key):
    key, _ = make_key("deploy")
    call_command("migrate_api_keys", "--org", str(org.pk), stdout=None, stderr=None)
    event = only("apikey.migrate")
    assert actor_of(event) == ("system", None, "manage.py migrate_api_keys")
    assert target_of(event) == ("api-key", key.pk, "deploy")
    assert event.address is None


# --- Service accounts ------------------------------------------------------------------------


def test_service_account_update_disable_enable_delete(org_admin, make_account, admin):
    account = make_account("robot")
    service_account_update(identity=org_admin, account=account, name="Robot", role=Role.EDITOR)
    update = only("serviceaccount.update")
    assert update.details == {
        "name": {"from": "robot", "to": "Robot"},
        "role": {"from": "Viewer", "to": "Editor"},
    }
    assert target_of(update) == ("service-account", account.pk, "Robot")
    service_account_update(identity=org_admin, account=account, is_disabled=True)
    service_account_update(identity=org_admin, account=account, is_disabled=True)  # no change
    service_account_update(identity=org_admin, account=account, is_disabled=False)
    assert len(events("serviceaccount.disable")) == len(events("serviceaccount.enable")) == 1
    assert len(events("serviceaccount.update")) == 1
    token_create(identity=org_admin, account=account, name="t", expires_at=None)
    account_id = account.pk
    service_account_delete(identity=org_admin, account=account)
    deleted = only("serviceaccount.delete")
    assert (target_of(deleted), deleted.details) == (
        ("service-account", account_id, "Robot"),
        {"tokens": 1},
    )
    assert actor_of(deleted) == ("user", admin.pk, "alice")


# --- Tokens ----------------------------------------------------------------------------------


def test_token_create_rename_revoke_rotate_delete(org_admin, make_account):
    account = make_account("robot")
    soon = timezone.now() + timedelta(days=3)
    token, _ = token_create(identity=org_admin, account=account, name="ci", expires_at=soon)
    created = only("token.create")
    assert target_of(created) == ("token", token.pk, "ci")
    assert created.details["serviceAccount"] == {"id": account.pk, "name": "robot"}
    token_rename(identity=org_admin, token=token, name="deploy")
    assert only("token.rename").details["name"] == {"from": "ci", "to": "deploy"}
    rotation = token_rotate(
        identity=org_admin, token=token, grace=timedelta(hours=1), expires_at=None
    )
    rotated = only("token.rotate")
    assert target_of(rotated) == ("token", rotation.new.pk, "deploy")
    assert rotated.details["replaced"]["id"] == token.pk
    token_revoke(identity=org_admin, token=rotation.old)
    token_revoke(identity=org_admin, token=rotation.old)  # already revoked: nothing new
    assert target_of(only("token.revoke")) == ("token", token.pk, rotation.old.name)
    token_delete(identity=org_admin, token=rotation.new)
    assert target_of(only("token.delete")) == ("token", rotation.new.pk, "deploy")


def test_an_expired_token_is_recorded_once_when_first_presented(org_admin, make_account, org):
    account = make_account("robot", role=Role.ADMIN)
    token, secret = token_create(
        identity=org_admin,
        account=account,
        name="short",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client = Client()
    assert client.get("/api/org", **bearer(secret)).status_code == 200
    assert not events("token.expire")
    ServiceAccountToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    for _ in range(3):
        assert client.get("/api/org", **bearer(secret)).status_code == 401
    event = only("token.expire")
    assert (event.org_id, actor_of(event)) == (org.pk, ("system", None, "token expiry"))
    assert target_of(event) == ("token", token.pk, "short")
    call_command("notify_expiring_tokens", stdout=None, stderr=None)
    assert len(events("token.expire")) == 1


def test_the_expiry_digest_run_records_expiries_nobody_presented(org_admin, make_account):
    account = make_account("robot")
    past = timezone.now() + timedelta(minutes=1)
    token, _ = token_create(identity=org_admin, account=account, name="old", expires_at=past)
    ServiceAccountToken.objects.update(expires_at=timezone.now() - timedelta(days=1))
    call_command("notify_expiring_tokens", stdout=None, stderr=None)
    call_command("notify_expiring_tokens", stdout=None, stderr=None)
    assert target_of(only("token.expire")) == ("token", token.pk, "old")


# --- API keys --------------------------------------------------------------------------------


def test_api_key_create_delete_migrate_and_hide(org, org_admin, make_key):
    key, _ = make_key("first", Role.EDITOR)
    assert (target_of(only("apikey.create")), only("apikey.create").details["role"]) == (
        ("api-key", key.pk, "first"),
        "Editor",
    )
    key_id = key.pk
    api_key_delete(identity=org_admin, key=key)
    assert target_of(only("apikey.delete")) == ("api-key", key_id, "first")
    kept, _ = make_key("second")
    result = migrate_keys(org, actor=org_admin)
    migrated = only("apikey.migrate")
    account = result.last_account
    assert target_of(migrated) == ("api-key", kept.pk, "second")
    assert migrated.details["serviceAccount"] == {"id": account.pk, "name": account.name}
    summary = only("apikey.migrate-all")
    assert summary.details == {"total": 1, "migrated": 1, "failed": 0}
    assert target_of(summary) == ("org", org.pk, "Acme")
    hide_api_keys(identity=org_admin)
    hide_api_keys(identity=org_admin)
    assert target_of(only("apikeys.hide")) == ("org", org.pk, "Acme")


def test_migrating_one_key_writes_no_summary(client, admin, make_key):
    key, _ = make_key("one")
    assert call(client, "POST", f"/api/serviceaccounts/migrate/{key.pk}").status_code == 200
    assert actor_of(only("apikey.migrate")) == ("user", admin.pk, "alice")
    assert not events("apikey.migrate-all")


def test_a_key_whose_event_cannot_be_written_is_not_migrated(org, make_key, monkeypatch):
    key, _ = make_key("stuck")
    fail_on_writes(monkeypatch, "apikey.migrate")
    result = migrate_keys(org, actor=SYSTEM)
    assert (result.migrated, result.failed) == (0, 1)
    assert ApiKey.objects.get(pk=key.pk).migrated_at is None
    assert not ServiceAccount.objects.exists()
    assert only("apikey.migrate-all").details == {"total": 1, "migrated": 0, "failed": 1}


# --- Teams, members, permissions -------------------------------------------------------------


def test_team_events(org_admin, editor, make_account):
    team = team_create(identity=org_admin, name="Ops")
    assert target_of(only("team.create")) == ("team", team.pk, "Ops")
    team_update(identity=org_admin, team=team, name="SRE", email="sre@example.com")
    assert only("team.update").details == {
        "name": {"from": "Ops", "to": "SRE"},
        "email": {"from": "", "to": "sre@example.com"},
    }
    robot = make_account("robot")
    team_member_add(identity=org_admin, team=team, user=editor)
    team_member_add(identity=org_admin, team=team, service_account=robot)
    added = events("team.member.add")
    assert [event.details["member"] for event in added] == [
        {"type": "user", "id": editor.pk, "name": "eddie"},
        {"type": "service-account", "id": robot.pk, "name": "robot"},
    ]
    team_member_remove(identity=org_admin, team=team, user=editor)
    assert only("team.member.remove").details["member"]["id"] == editor.pk
    team_permissions_set(identity=org_admin, team=team, permissions=["teams:write"])
    team_permissions_set(identity=org_admin, team=team, permissions=["teams:write"])  # same
    assert only("team.permissions").details == {"granted": ["teams:write"], "revoked": []}
    team_delete(identity=org_admin, team=team)
    assert target_of(only("team.delete")) == ("team", team.pk, "SRE")


def test_permission_catalogue_and_account_grants(org_admin, make_account):
    permission = permission_create(identity=org_admin, name="metrics:read")
    assert target_of(only("permission.create")) == ("permission", permission.pk, "metrics:read")
    robot = make_account("robot")
    service_account_permissions_set(identity=org_admin, account=robot, permissions=["metrics:read"])
    granted = only("serviceaccount.permissions")
    assert (target_of(granted), granted.details) == (
        ("service-account", robot.pk, "robot"),
        {"granted": ["metrics:read"], "revoked": []},
    )
    permission_delete(identity=org_admin, name="metrics:read")
    assert target_of(only("permission.delete")) == ("permission", permission.pk, "metrics:read")


def test_org_member_events(org, org_admin, other_org):
    bob = make_user("bob", other_org, Role.VIEWER)
    membership_add(identity=org_admin, org=org, user=bob, role=Role.EDITOR)
    added = only("orgmember.add")
    assert (added.org_id, target_of(added), added.details) == (
        org.pk,
        ("user", bob.pk, "bob"),
        {"role": "Editor"},
    )
    membership_update(identity=org_admin, org=org, user=bob, role=Role.VIEWER)
    assert only("orgmember.update").details == {"role": {"from": "Editor", "to": "Viewer"}}
    membership_remove(identity=org_admin, org=org, user=bob)
    assert target_of(only("orgmember.remove")) == ("user", bob.pk, "bob")


# --- Sign-ins --------------------------------------------------------------------------------


def test_sign_ins_on_the_login_page(admin):
    client = Client(REMOTE_ADDR="203.0.113.5")
    client.post("/login", {"username": "alice", "password": PASSWORD})
    client = Client(REMOTE_ADDR="203.0.113.5")
    client.post("/login", {"username": "ALICE@example.com", "password": "not-the-password-1"})
    client.post("/login", {"username": "ghost", "password": "not-the-password-2"})
    success, failure = only("signin.success"), events("signin.failure")
    assert (success.org_id, actor_of(success), target_of(success)) == (
        None,
        ("user", admin.pk, "alice"),
        ("user", admin.pk, "alice"),
    )
    assert success.address == "203.0.113.5"
    assert [(e.details["login"], e.target_id) for e in failure] == [
        ("ALICE@example.com", admin.pk),
        ("ghost", None),
    ]
    assert all(e.details["via"] == "login page" for e in events())
    for event in events():
        assert "not-the-password" not in str(event.details) + event.actor_name + event.target_name


def test_a_lockout_is_recorded_as_such(admin):
    client = Client()
    for _ in range(5):
        client.post("/login", {"username": "alice", "password": "wrong"})
    client.post("/login", {"username": "alice", "password": PASSWORD})
    assert len(events("signin.failure")) == 4
    assert len(events("signin.lockout")) == 2  # the fifth failure locks; the sixth is refused
    assert not events("signin.success")


def test_sign_ins_over_the_api(admin):
    client = Client()
    assert client.get("/api/user", **basic_auth("alice")).status_code == 200
    assert client.get("/api/user", **basic_auth("alice", "wrong-password")).status_code == 401
    assert [(e.action, e.target_id, e.details) for e in events()] == [
        ("signin.success", admin.pk, {"login": "alice", "via": "API"}),
        ("signin.failure", admin.pk, {"login": "alice", "via": "API"}),
    ]


def test_a_basic_auth_client_signs_in_once_per_interval(admin, settings):
    settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS = 3600
    client = Client()
    for _ in range(3):
        assert client.get("/api/user", **basic_auth("alice")).status_code == 200
    assert len(events("signin.success")) == 1
    admin.refresh_from_db()
    assert admin.last_login is not None
    settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS = 0
    client.get("/api/user", **basic_auth("alice"))
    assert len(events("signin.success")) == 2


def test_tokens_on_the_api_are_no_sign_ins(org_admin, make_account):
    account = make_account("robot")
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    before = len(events())
    Client().get("/api/org", **bearer(secret))
    assert len(events()) == before


# --- One transaction -------------------------------------------------------------------------


def test_a_refused_change_leaves_no_event(org_admin, make_account):
    make_account("robot")
    before = len(events())
    with pytest.raises(Conflict):
        service_account_create(identity=org_admin, name="ROBOT")
    with pytest.raises(Conflict):
        team_create(identity=org_admin, name="Everyone")
    assert len(events()) == before


def fail_on_writes(monkeypatch, action: str) -> None:
    """Make writing the ``action`` event fail as a database would."""
    write = audit_services.write

    def failing(events):
        if any(event.action == action for event in events):
            raise DatabaseError("disk full")
        return write(events)

    monkeypatch.setattr(audit_services, "write", failing)


CHANGES = {
    "serviceaccount.create": lambda ctx: service_account_create(identity=ctx["id"], name="new"),
    "serviceaccount.delete": lambda ctx: service_account_delete(
        identity=ctx["id"], account=ctx["sa"]
    ),
    "serviceaccount.disable": lambda ctx: service_account_update(
        identity=ctx["id"], account=ctx["sa"], is_disabled=True
    ),
    "token.create": lambda ctx: token_create(
        identity=ctx["id"], account=ctx["sa"], name="new", expires_at=None
    ),
    "token.revoke": lambda ctx: token_revoke(identity=ctx["id"], token=ctx["token"]),
    "token.rotate": lambda ctx: token_rotate(
        identity=ctx["id"], token=ctx["token"], grace=timedelta(0), expires_at=None
    ),
    "token.delete": lambda ctx: token_delete(identity=ctx["id"], token=ctx["token"]),
    "apikey.create": lambda ctx: api_key_create(
        identity=ctx["id"], name="new", role=Role.VIEWER, seconds_to_live=60
    ),
    "apikey.delete": lambda ctx: api_key_delete(identity=ctx["id"], key=ctx["key"]),
    "team.create": lambda ctx: team_create(identity=ctx["id"], name="new"),
    "team.member.add": lambda ctx: team_member_add(
        identity=ctx["id"], team=ctx["team"], service_account=ctx["sa"]
    ),
    "team.permissions": lambda ctx: team_permissions_set(
        identity=ctx["id"], team=ctx["team"], permissions=["teams:write"]
    ),
    "orgmember.update": lambda ctx: membership_update(
        identity=ctx["id"], org=ctx["id"].org, user=ctx["editor"], role=Role.VIEWER
    ),
}


@pytest.mark.parametrize("action", CHANGES)
def test_a_failure_writing_the_event_undoes_the_change(
    action, org_admin, make_account, make_key, editor, monkeypatch
):
    account = make_account("robot")
    token, _ = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    key, _ = make_key("k")
    team = team_create(identity=org_admin, name="Ops")
    ctx = {
        "id": org_admin,
        "sa": account,
        "token": token,
        "key": key,
        "team": team,
        "editor": editor,
    }
    state = snapshot()
    fail_on_writes(monkeypatch, action)
    with pytest.raises(DatabaseError):
        CHANGES[action](ctx)
    assert snapshot() == state


def snapshot() -> dict:
    """Every row a change above could touch, as plain values."""
    return {
        model.__name__: sorted(map(str, model.objects.values()))
        for model in (ServiceAccount, ServiceAccountToken, ApiKey, Team, Membership, AuditEvent)
    } | {"team members": sorted(map(str, Team.objects.values("members")))}


# --- The secret scan itself ------------------------------------------------------------------


def test_the_secret_scan_would_catch_a_secret_in_an_event(org, org_admin, make_account, audit_scan):
    account = make_account("robot")
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    record("token.rename", actor=Actor.system("test"), org=org, details={"oops": secret})
    assert audit_scan.leaks() == [secret]
    audit_scan.events.pop()  # the scan works; let the test end cleanly


def test_an_action_the_audit_page_cannot_filter_by_is_refused(org):
    with pytest.raises(ValueError, match="missing from ACTIONS"):
        record("token.unheard-of", actor=SYSTEM, org=org)
    assert not events()


def test_events_need_an_org_when_the_actor_is_no_identity(org):
    with pytest.raises(TypeError):
        record("test.nothing", actor=SYSTEM)
    assert not events()
