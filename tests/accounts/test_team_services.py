"""Teams and org members through their services: names, Everyone, membership rules."""

import pytest
from django.core.exceptions import ValidationError

from accounts.access import RoleCeilingExceeded
from accounts.errors import Conflict, NotFound, Refusal
from accounts.models import Membership, Team, TeamMember, TeamPermission, User
from accounts.roles import Role
from accounts.services import (
    LAST_ADMIN_DEMOTE,
    LAST_ADMIN_REMOVE,
    membership_add,
    membership_remove,
    membership_update,
    service_account_create,
    service_account_delete,
)
from accounts.teams.services import (
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
    team_permissions_set,
    team_update,
)
from tests.helpers import grant, identity_of, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def everyone(org) -> Team:
    return Team.objects.get(org=org, is_everyone=True)


@pytest.fixture
def team(org_admin) -> Team:
    return team_create(identity=org_admin, name="Ops", email="ops@example.com")


# --- Teams ----------------------------------------------------------------------------------


def test_create_trims_and_keeps_the_email(team, org):
    assert (team.org, team.name, team.email, team.is_everyone) == (
        org,
        "Ops",
        "ops@example.com",
        False,
    )


@pytest.mark.parametrize("name", ["ops", "OPS", " Ops ", "\uff2fps", "everyone", "EVERYONE"])
def test_names_are_unique_per_org_ignoring_case(org_admin, team, name):
    with pytest.raises(Conflict, match="already exists"):
        team_create(identity=org_admin, name=name)


def test_same_name_in_another_org(team, outsider, other_org):
    theirs = team_create(identity=identity_of(outsider, other_org), name="Ops")
    assert theirs.org == other_org


@pytest.mark.parametrize(
    ("name", "email"),
    [("", ""), ("   ", ""), ("x" * 191, ""), ("tab\tname", ""), ("ok", "not-an-email")],
)
def test_bad_names_and_emails_are_refused(org_admin, name, email):
    with pytest.raises(ValidationError):
        team_create(identity=org_admin, name=name, email=email)
    assert not Team.objects.filter(is_everyone=False).exists()


def test_update_renames_and_replaces_the_email(org_admin, team):
    team_create(identity=org_admin, name="Dev")
    team_update(identity=org_admin, team=team, name="OPS team")
    team.refresh_from_db()
    assert (team.name, team.email) == ("OPS team", "")
    team_update(identity=org_admin, team=team, name="ops TEAM", email="a@b.example")
    with pytest.raises(Conflict):
        team_update(identity=org_admin, team=team, name="dev")
    team.refresh_from_db()
    assert (team.name, team.email) == ("ops TEAM", "a@b.example")


def test_everyone_cannot_be_renamed_deleted_joined_or_left(org_admin, everyone, editor):
    with pytest.raises(Refusal, match="built in"):
        team_update(identity=org_admin, team=everyone, name="All")
    with pytest.raises(Refusal, match="built in"):
        team_delete(identity=org_admin, team=everyone)
    with pytest.raises(Refusal, match="implicit"):
        team_member_add(identity=org_admin, team=everyone, user=editor)
    with pytest.raises(Refusal, match="built in"):
        team_member_remove(identity=org_admin, team=everyone, user=editor)
    everyone.refresh_from_db()
    assert everyone.name == "Everyone"


def test_everyone_may_hold_permissions(org_admin, everyone):
    assert team_permissions_set(
        identity=org_admin, team=everyone, permissions=["serviceaccounts:read"]
    ) == ["serviceaccounts:read"]


def test_members_are_users_and_accounts_of_the_same_org_only(
    org_admin, team, editor, outsider, make_account, other_org
):
    account = make_account("bot")
    team_member_add(identity=org_admin, team=team, user=editor)
    team_member_add(identity=org_admin, team=team, service_account=account)
    assert team.member_count() == 2
    with pytest.raises(NotFound):
        team_member_add(identity=org_admin, team=team, user=outsider)
    theirs = make_user("theirs-bot-owner", other_org, Role.ADMIN)
    foreign = service_account_create(identity=identity_of(theirs, other_org), name="foreign")
    with pytest.raises(NotFound):
        team_member_add(identity=org_admin, team=team, service_account=foreign)
    assert team.members.count() == 2


def test_adding_twice_is_a_conflict(org_admin, team, editor, make_account):
    account = make_account("bot")
    team_member_add(identity=org_admin, team=team, user=editor)
    team_member_add(identity=org_admin, team=team, service_account=account)
    with pytest.raises(Conflict, match="User is already"):
        team_member_add(identity=org_admin, team=team, user=editor)
    with pytest.raises(Conflict, match="Service account is already"):
        team_member_add(identity=org_admin, team=team, service_account=account)


def test_remove_member_and_missing_member(org_admin, team, editor, viewer):
    team_member_add(identity=org_admin, team=team, user=editor)
    team_member_remove(identity=org_admin, team=team, user=editor)
    assert not team.members.exists()
    with pytest.raises(NotFound):
        team_member_remove(identity=org_admin, team=team, user=viewer)


def test_deleting_a_team_takes_its_members_and_grants(org_admin, team, editor):
    team_member_add(identity=org_admin, team=team, user=editor)
    team_permissions_set(identity=org_admin, team=team, permissions=["teams:write"])
    team_delete(identity=org_admin, team=team)
    assert not Team.objects.filter(pk=team.pk).exists()
    assert not TeamMember.objects.exists()
    assert not TeamPermission.objects.exists()
    with pytest.raises(NotFound):  # a stale copy of the deleted team
        team_member_add(identity=org_admin, team=team, user=editor)


def test_deleting_an_account_takes_its_memberships(org_admin, team, make_account):
    account = make_account("bot")
    team_member_add(identity=org_admin, team=team, service_account=account)
    service_account_delete(identity=org_admin, account=account)
    assert not TeamMember.objects.exists()


# --- Org members ----------------------------------------------------------------------------


def test_add_member_respects_the_role_ceiling(org, editor, other_org):
    grant(editor, "users:write")
    newcomer = make_user("newcomer", other_org, Role.VIEWER)
    with pytest.raises(RoleCeilingExceeded):
        membership_add(identity=identity_of(editor), org=org, user=newcomer, role=Role.ADMIN)
    membership_add(identity=identity_of(editor), org=org, user=newcomer, role=Role.EDITOR)
    with pytest.raises(Conflict):
        membership_add(identity=identity_of(editor), org=org, user=newcomer, role=Role.VIEWER)


def test_change_role(org, org_admin, viewer):
    membership_update(identity=org_admin, org=org, user=viewer, role=Role.EDITOR)
    assert Membership.objects.get(org=org, user=viewer).role == Role.EDITOR


def test_nobody_manages_a_member_above_them(org, admin, editor, viewer):
    grant(editor, "users:write")
    acting = identity_of(editor)
    with pytest.raises(RoleCeilingExceeded, match="higher than yours"):
        membership_update(identity=acting, org=org, user=admin, role=Role.VIEWER)
    with pytest.raises(RoleCeilingExceeded, match="higher than yours"):
        membership_remove(identity=acting, org=org, user=admin)
    with pytest.raises(RoleCeilingExceeded):
        membership_update(identity=acting, org=org, user=viewer, role=Role.ADMIN)
    membership_update(identity=acting, org=org, user=viewer, role=Role.EDITOR)
    assert Membership.objects.get(org=org, user=admin).role == Role.ADMIN


def test_the_last_admin_stays(org, org_admin, admin):
    with pytest.raises(Refusal, match=LAST_ADMIN_DEMOTE):
        membership_update(identity=org_admin, org=org, user=admin, role=Role.EDITOR)
    with pytest.raises(Refusal, match=LAST_ADMIN_REMOVE):
        membership_remove(identity=org_admin, org=org, user=admin)
    second = make_user("second", org, Role.ADMIN)
    membership_update(identity=org_admin, org=org, user=admin, role=Role.EDITOR)
    with pytest.raises(Refusal):
        membership_remove(identity=identity_of(second), org=org, user=second)


def test_removing_a_member_takes_their_teams_in_that_org_and_moves_their_current_org(
    org, org_admin, other_org, editor
):
    Membership.objects.create(org=other_org, user=editor, role=Role.VIEWER)
    ops = team_create(identity=org_admin, name="Ops")
    team_member_add(identity=org_admin, team=ops, user=editor)
    elsewhere = Team.objects.create(org=other_org, name="Theirs")
    TeamMember.objects.create(team=elsewhere, user=editor)

    membership_remove(identity=org_admin, org=org, user=editor)

    assert not Membership.objects.filter(org=org, user=editor).exists()
    assert list(TeamMember.objects.values_list("team__name", flat=True)) == ["Theirs"]
    assert User.objects.get(pk=editor.pk).current_org == other_org
    with pytest.raises(NotFound):
        membership_remove(identity=org_admin, org=org, user=editor)
