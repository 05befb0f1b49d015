"""The permission model (DESIGN §11): the catalogue, Everyone, effective permissions and
the ceilings, through ``accounts.access`` and the services."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.access import (
    GrantCeilingExceeded,
    Identity,
    MissingPermission,
    RoleCeilingExceeded,
    effective_permission_sources,
    effective_permissions,
    has_permission,
    held_by,
    require_any_permission,
    require_permission,
)
from accounts.errors import Conflict, NotFound, Refusal
from accounts.models import (
    MAIN_ORG_ID,
    Organization,
    Permission,
    ServiceAccountPermission,
    Team,
    TeamPermission,
)
from accounts.roles import Role
from accounts.teams.catalogue import BUILTIN_PERMISSIONS, clean_permission_name
from accounts.teams.models import (
    EVERYONE,
    permission_holder_counts,
    team_names_by_account,
    teams_of,
)
from accounts.teams.services import (
    permission_create,
    permission_delete,
    service_account_permissions_set,
    team_create,
    team_member_add,
    team_permissions_set,
)
from tests.helpers import grant, identity_of
from tokens.services import token_create

pytestmark = pytest.mark.django_db

BUILTINS = [
    "serviceaccounts:read",
    "serviceaccounts:write",
    "apikeys:write",
    "teams:write",
    "users:write",
    "tokens:introspect",
    "audit:read",
]


def everyone(org: Organization) -> Team:
    return Team.objects.get(org=org, is_everyone=True)


# --- The catalogue --------------------------------------------------------------------------


def test_builtins_are_the_documented_seven():
    assert list(BUILTIN_PERMISSIONS) == BUILTINS
    assert all(BUILTIN_PERMISSIONS.values())


@pytest.mark.parametrize(
    "name",
    ["metrics:ingest", "proxies:manage", "a:b:c", "x1_-y:read.all", "metrics:*", "a" + ":b" * 49],
)
def test_good_custom_names(name):
    assert clean_permission_name(f"  {name} ") == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "metrics",
        "Metrics:ingest",
        "1metrics:ingest",
        "metrics:",
        "metrics::ingest",
        "metrics:in gest",
        "metrics:INGEST",
        "metrics.x:ingest",
        "metrics:ingest\x00",
        "m:" + "x" * 98 + "y",  # 101 characters
        "teams:delete",  # a built-in area
        "serviceaccounts:rotate",
    ],
)
def test_bad_custom_names(name):
    with pytest.raises(ValidationError):
        clean_permission_name(name)


def test_custom_permissions_are_unique_per_org(org_admin, outsider, other_org):
    created = permission_create(identity=org_admin, name="metrics:ingest", description=" Ingest ")
    assert (created.org, created.description) == (org_admin.org, "Ingest")
    with pytest.raises(Conflict, match="already exists"):
        permission_create(identity=org_admin, name="metrics:ingest")
    with pytest.raises(Conflict, match="already exists"):
        permission_create(identity=org_admin, name="teams:write")
    theirs = identity_of(outsider, other_org)
    assert permission_create(identity=theirs, name="metrics:ingest").org == other_org
    with pytest.raises(IntegrityError), transaction.atomic():
        Permission.objects.create(org=org_admin.org, name="metrics:ingest")


def test_description_is_bounded(org_admin):
    with pytest.raises(ValidationError):
        permission_create(identity=org_admin, name="a:b", description="x" * 501)
    with pytest.raises(ValidationError):
        permission_create(identity=org_admin, name="a:b", description="bell\x07")
    assert not Permission.objects.exists()


def test_deleting_a_custom_permission_removes_every_grant_in_its_org_only(
    org, org_admin, other_org, outsider, make_account
):
    permission_create(identity=org_admin, name="metrics:ingest")
    team = team_create(identity=org_admin, name="Ingest")
    team_permissions_set(identity=org_admin, team=team, permissions=["metrics:ingest"])
    team_permissions_set(identity=org_admin, team=everyone(org), permissions=["metrics:ingest"])
    account = make_account("bot")
    service_account_permissions_set(
        identity=org_admin, account=account, permissions=["metrics:ingest", "apikeys:write"]
    )
    assert permission_holder_counts(org, "metrics:ingest") == (2, 1)
    theirs = identity_of(outsider, other_org)
    permission_create(identity=theirs, name="metrics:ingest")
    team_permissions_set(identity=theirs, team=everyone(other_org), permissions=["metrics:ingest"])

    permission_delete(identity=org_admin, name="metrics:ingest")

    assert not Permission.objects.filter(org=org).exists()
    assert not TeamPermission.objects.filter(team__org=org).exists()
    assert list(account.permission_grants.values_list("permission", flat=True)) == ["apikeys:write"]
    assert TeamPermission.objects.filter(team__org=other_org, permission="metrics:ingest").exists()


def test_builtins_cannot_be_deleted_and_unknown_ones_are_not_found(org_admin):
    with pytest.raises(Refusal, match="built-in"):
        permission_delete(identity=org_admin, name="teams:write")
    with pytest.raises(NotFound):
        permission_delete(identity=org_admin, name="metrics:ingest")


def test_unknown_or_foreign_permissions_cannot_be_granted(org_admin, outsider, other_org):
    permission_create(identity=identity_of(outsider, other_org), name="metrics:ingest")
    team = team_create(identity=org_admin, name="Ops")
    for names in (["metrics:ingest"], ["nope:nope"], ["teams:write", "Teams:write"]):
        with pytest.raises(ValidationError, match="Unknown permission"):
            team_permissions_set(identity=org_admin, team=team, permissions=names)
    assert not team.grants.exists()


# --- Everyone -------------------------------------------------------------------------------


def test_every_org_has_exactly_one_everyone(org, other_org):
    assert everyone(org).name == EVERYONE
    assert Team.objects.filter(is_everyone=True, org=other_org).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(org=org, name="Everyone 2", is_everyone=True)


def test_main_org_got_everyone_from_the_migration():
    assert Team.objects.filter(org_id=MAIN_ORG_ID, is_everyone=True, name=EVERYONE).exists()


def test_everyone_applies_to_every_user_and_account_of_its_org_only(
    org, editor, viewer, make_account, outsider, other_org
):
    TeamPermission.objects.create(team=everyone(org), permission="serviceaccounts:read")
    account = make_account("bot")
    for principal in (editor, viewer, account):
        assert has_permission(identity_of(principal), "serviceaccounts:read")
        assert not has_permission(identity_of(principal), "serviceaccounts:write")
    outsider_as_editor = Identity(kind="user", org=other_org, role=Role.EDITOR, user=outsider)
    assert not has_permission(outsider_as_editor, "serviceaccounts:read")


def test_teams_of_lists_everyone_first(org, editor, make_account, org_admin):
    account = make_account("bot")
    for name in ("Zeta", "Alpha"):
        team = team_create(identity=org_admin, name=name)
        team_member_add(identity=org_admin, team=team, service_account=account)
        team_member_add(identity=org_admin, team=team, user=editor)
    assert account.team_names() == ["Everyone", "Alpha", "Zeta"]
    assert [t.name for t in teams_of(editor, org)] == ["Everyone", "Alpha", "Zeta"]
    loner = make_account("loner")
    assert team_names_by_account([account, loner]) == {
        account.pk: ["Everyone", "Alpha", "Zeta"],
        loner.pk: ["Everyone"],
    }
    assert team_names_by_account([]) == {}


# --- Effective permissions ------------------------------------------------------------------


def test_editors_and_viewers_start_with_nothing(editor, viewer, no_role):
    for user in (editor, viewer, no_role):
        identity = identity_of(user)
        assert effective_permissions(identity) == frozenset()
        assert not any(has_permission(identity, name) for name in BUILTINS)


def test_admin_implies_every_permission_without_a_query(
    org_admin, django_assert_num_queries, make_account
):
    permission_create(identity=org_admin, name="metrics:ingest")
    with django_assert_num_queries(0):
        assert all(has_permission(org_admin, name) for name in [*BUILTINS, "metrics:ingest"])
    assert effective_permissions(org_admin) == {*BUILTINS, "metrics:ingest"}
    admin_account = make_account("root-bot", role=Role.ADMIN)
    assert has_permission(identity_of(admin_account), "users:write")


def test_server_admins_hold_everything(server_admin, org):
    identity = Identity(
        kind="user", org=org, role=Role.ADMIN, user=server_admin, is_server_admin=True
    )
    assert has_permission(identity, "users:write")


def test_users_hold_their_teams_permissions(org, org_admin, editor, viewer):
    team = team_create(identity=org_admin, name="Ops")
    team_permissions_set(identity=org_admin, team=team, permissions=["teams:write"])
    team_member_add(identity=org_admin, team=team, user=editor)
    assert has_permission(identity_of(editor), "teams:write")
    assert not has_permission(identity_of(viewer), "teams:write")


def test_accounts_hold_individual_team_and_everyone_permissions(org, org_admin, make_account):
    account = make_account("bot")
    permission_create(identity=org_admin, name="metrics:ingest")
    service_account_permissions_set(
        identity=org_admin, account=account, permissions=["apikeys:write"]
    )
    team = team_create(identity=org_admin, name="Ingest")
    team_permissions_set(
        identity=org_admin, team=team, permissions=["metrics:ingest", "apikeys:write"]
    )
    team_member_add(identity=org_admin, team=team, service_account=account)
    team_permissions_set(identity=org_admin, team=everyone(org), permissions=["tokens:introspect"])
    assert held_by(identity_of(account)) == {"apikeys:write", "metrics:ingest", "tokens:introspect"}
    assert effective_permission_sources(account) == [
        ("apikeys:write", ["individual", "team:Ingest"]),
        ("tokens:introspect", ["team:Everyone"]),
        ("metrics:ingest", ["team:Ingest"]),
    ]


def test_admin_accounts_list_every_permission_with_the_role_as_a_source(org_admin, make_account):
    account = make_account("root-bot", role=Role.ADMIN)
    service_account_permissions_set(
        identity=org_admin, account=account, permissions=["users:write"]
    )
    sources = dict(effective_permission_sources(account))
    assert list(sources) == BUILTINS
    assert sources["users:write"] == ["individual", "role:Admin"]
    assert sources["teams:write"] == ["role:Admin"]


def test_write_implies_read(editor):
    grant(editor, "serviceaccounts:write")
    identity = identity_of(editor)
    assert has_permission(identity, "serviceaccounts:read")
    require_permission(identity, "serviceaccounts:read")
    assert not has_permission(identity, "apikeys:write")


def test_legacy_keys_act_with_their_role_alone(org, make_key):
    TeamPermission.objects.create(team=everyone(org), permission="serviceaccounts:read")
    key, _ = make_key("k", role=Role.EDITOR)
    identity = Identity(kind="api-key", org=org, role=Role.EDITOR, credential_id=key.pk)
    assert not has_permission(identity, "serviceaccounts:read")
    admin_key = Identity(kind="api-key", org=org, role=Role.ADMIN, credential_id=key.pk)
    assert has_permission(admin_key, "serviceaccounts:read")


def test_one_query_per_request_however_many_checks(editor, django_assert_num_queries):
    grant(editor, "teams:write")
    identity = identity_of(editor)
    with django_assert_num_queries(1):
        for name in BUILTINS:
            has_permission(identity, name)
        effective_permissions(identity)
    # A new request (a new Identity) reads again, so changes apply at once.
    TeamPermission.objects.filter(permission="teams:write").delete()
    assert not has_permission(identity_of(editor), "teams:write")
    assert has_permission(identity, "teams:write")  # the old request's view of the world


def test_require_functions_name_what_is_missing(editor):
    identity = identity_of(editor)
    with pytest.raises(MissingPermission, match="Permissions needed: users:write"):
        require_permission(identity, "users:write")
    with pytest.raises(MissingPermission, match="users:write or teams:write"):
        require_any_permission(identity, "users:write", "teams:write")
    grant(editor, "teams:write")
    require_any_permission(identity_of(editor), "users:write", "teams:write")


# --- Ceilings -------------------------------------------------------------------------------


@pytest.fixture
def team_manager(editor) -> Identity:
    """An Editor who may manage teams and holds apikeys:write, nothing else."""
    grant(editor, "teams:write", "apikeys:write")
    return identity_of(editor)


def test_nobody_grants_what_they_do_not_hold(org_admin, team_manager):
    team = team_create(identity=team_manager, name="Ops")
    team_permissions_set(identity=team_manager, team=team, permissions=["apikeys:write"])
    with pytest.raises(GrantCeilingExceeded, match="users:write"):
        team_permissions_set(
            identity=team_manager, team=team, permissions=["apikeys:write", "users:write"]
        )
    assert team.permission_names() == ["apikeys:write"]


def test_anyone_managing_teams_may_remove_a_permission(org_admin, team_manager):
    team = team_create(identity=org_admin, name="Ops")
    team_permissions_set(
        identity=org_admin, team=team, permissions=["users:write", "apikeys:write"]
    )
    assert team_permissions_set(
        identity=team_manager, team=team, permissions=["apikeys:write"]
    ) == ["apikeys:write"]


def test_joining_a_team_needs_every_permission_it_holds(org, org_admin, team_manager, viewer):
    team = team_create(identity=org_admin, name="Admins")
    team_permissions_set(identity=org_admin, team=team, permissions=["users:write"])
    with pytest.raises(GrantCeilingExceeded):
        team_member_add(identity=team_manager, team=team, user=viewer)
    with pytest.raises(GrantCeilingExceeded):
        team_member_add(identity=team_manager, team=team, user=team_manager.user)
    assert not team.members.exists()
    team_member_add(identity=org_admin, team=team, user=viewer)


def test_individual_grants_face_the_ceiling_too(org_admin, editor, make_account):
    grant(editor, "serviceaccounts:write")
    identity = identity_of(editor)
    account = make_account("bot")
    service_account_permissions_set(
        identity=identity, account=account, permissions=["serviceaccounts:read"]
    )
    with pytest.raises(GrantCeilingExceeded):
        service_account_permissions_set(
            identity=identity, account=account, permissions=["teams:write"]
        )
    assert list(ServiceAccountPermission.objects.values_list("permission", flat=True)) == [
        "serviceaccounts:read"
    ]


def test_tokens_only_for_accounts_that_hold_no_more_than_the_caller(
    org_admin, editor, make_account
):
    grant(editor, "serviceaccounts:write")
    identity = identity_of(editor)
    stronger = make_account("stronger")
    service_account_permissions_set(
        identity=org_admin, account=stronger, permissions=["users:write"]
    )
    with pytest.raises(GrantCeilingExceeded):
        token_create(identity=identity, account=stronger, name="t", expires_at=None)
    admin_account = make_account("root-bot", role=Role.ADMIN)
    with pytest.raises(RoleCeilingExceeded):
        token_create(identity=identity, account=admin_account, name="t", expires_at=None)
    weaker = make_account("weaker", role=Role.EDITOR)
    service_account_permissions_set(
        identity=org_admin, account=weaker, permissions=["serviceaccounts:read"]
    )
    token, _ = token_create(identity=identity, account=weaker, name="t", expires_at=None)
    assert token.service_account == weaker
