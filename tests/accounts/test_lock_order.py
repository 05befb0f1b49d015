"""Writes that add or delete service accounts or tokens lock in one order: the org, then the
account, then its tokens. The counters' triggers (migration tokens 0005) make a new or deleted
token lock its account's row and a new or deleted account lock its org's row, so a write
holding them the other way round deadlocks with one going this way (PostgreSQL aborts one of
them: a 503). Real row locks across connections, so PostgreSQL only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType

import pytest
from django.db import connections

from accounts import services
from accounts.errors import NotFound, Refusal
from accounts.invites.models import invite_digest
from accounts.invites.services import invite_accept_new, invite_create
from accounts.models import Organization, ServiceAccount, Team, TeamMember, User
from accounts.roles import Role
from accounts.services import membership_add, org_delete, service_account_delete
from accounts.teams import services as team_services
from accounts.teams.services import permission_create, team_create, team_member_add
from tests.helpers import (
    PASSWORD,
    SYSTEM,
    make_user,
    needs_postgresql,
    until_another_transaction_waits_for_ours,
    while_held,
)
from tokens.models import ServiceAccountToken
from tokens.services import token_create, token_delete, token_rename, token_revoke, token_rotate

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]


@pytest.fixture
def robot(make_account, org_admin) -> ServiceAccount:
    robot = make_account("robot")
    token_create(identity=org_admin, account=robot, name="ci", expires_at=None)
    return robot


def paused_after(
    monkeypatch, module: ModuleType, name: str, action: Callable[[], object]
) -> Callable[[], None]:
    """Run ``action`` on another connection, pausing it right after its call of
    ``module.name`` (holding the locks taken so far) until another transaction waits for it.
    Returns once it is paused; the returned function waits for ``action`` to end and raises
    what it raised."""
    paused, errors = threading.Event(), []
    original = getattr(module, name)

    def then_pause(*args, **kwargs):
        result = original(*args, **kwargs)
        paused.set()
        until_another_transaction_waits_for_ours()
        return result

    monkeypatch.setattr(module, name, then_pause)

    def run() -> None:
        try:
            action()
        except Exception as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            paused.set()
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    paused.wait()

    def finish() -> None:
        thread.join()
        if errors:
            raise errors[0]

    return finish


def account_delete_paused(monkeypatch, org_admin, robot) -> Callable[[], None]:
    """``robot``'s delete, paused once it holds its locks (at its permission check)."""
    return paused_after(
        monkeypatch,
        services,
        "check_can_manage_account",
        lambda: service_account_delete(identity=org_admin, account=robot),
    )


def test_an_org_deleted_while_one_of_its_accounts_is_deleted(monkeypatch, org, org_admin, robot):
    finish = account_delete_paused(monkeypatch, org_admin, robot)
    try:
        org_delete(actor=SYSTEM, org=org)
    finally:
        finish()
    assert not Organization.objects.filter(pk=org.pk).exists()
    assert not ServiceAccount.objects.filter(pk=robot.pk).exists()


TOKEN_WRITES = {
    "rotate": lambda identity, token: token_rotate(
        identity=identity, token=token, grace=timedelta(0), expires_at=None
    ),
    "delete": lambda identity, token: token_delete(identity=identity, token=token),
    "revoke": lambda identity, token: token_revoke(identity=identity, token=token),
    "rename": lambda identity, token: token_rename(identity=identity, token=token, name="x"),
}


@pytest.mark.parametrize("write", TOKEN_WRITES)
def test_a_token_written_while_its_account_is_deleted_is_not_found(
    monkeypatch, org_admin, robot, write
):
    token = robot.tokens.get()
    finish = account_delete_paused(monkeypatch, org_admin, robot)
    try:
        with pytest.raises(NotFound):
            TOKEN_WRITES[write](org_admin, token)
    finally:
        finish()
    assert not ServiceAccountToken.objects.exists()


def test_a_token_created_while_its_org_is_deleted_goes_with_it(org, org_admin, robot):
    def create() -> None:
        token_create(identity=org_admin, account=robot, name="late", expires_at=None)

    while_held(create, lambda: org_delete(actor=SYSTEM, org=org))
    assert not Organization.objects.filter(pk=org.pk).exists()
    assert not ServiceAccountToken.objects.exists()


def test_a_team_member_added_while_its_org_is_deleted_goes_with_it(
    monkeypatch, org, org_admin, robot
):
    """Adding a member locks the team, then the account: the org delete takes them in that
    order too."""
    team = team_create(identity=org_admin, name="ops")
    finish = paused_after(
        monkeypatch,
        team_services,
        "_lock_team",
        lambda: team_member_add(identity=org_admin, team=team, service_account=robot),
    )
    try:
        org_delete(actor=SYSTEM, org=org)
    finally:
        finish()
    assert not Team.objects.filter(org_id=org.pk).exists()
    assert not TeamMember.objects.filter(service_account_id=robot.pk).exists()


def refused_after_the_org_is_deleted(org, act: Callable[[], object], refusal: type) -> None:
    """``act``, coming while ``org`` is being deleted, waits for it and raises ``refusal``."""
    with pytest.raises(refusal):
        while_held(lambda: org_delete(actor=SYSTEM, org=org), act)
    assert not Organization.objects.filter(pk=org.pk).exists()


@pytest.mark.parametrize("what", ["team", "permission", "member"])
def test_adding_to_an_org_being_deleted_is_not_found(org, org_admin, editor, other_org, what):
    """Not an IntegrityError at commit (a 500): the write waits for the org's lock, then finds
    no org."""
    if what == "member":
        make_user("mallory", other_org, Role.VIEWER)
    acts = {
        "team": lambda: team_create(identity=org_admin, name="late"),
        "permission": lambda: permission_create(identity=org_admin, name="late:read"),
        "member": lambda: membership_add(
            identity=org_admin, org=org, user=User.objects.get(username="mallory"), role=Role.VIEWER
        ),
    }
    refused_after_the_org_is_deleted(org, acts[what], NotFound)


def test_accepting_an_invite_of_an_org_being_deleted_is_refused(org, org_admin):
    _, secret = invite_create(
        identity=org_admin,
        login_or_email="new@example.com",
        role=Role.VIEWER,
        send_email=False,
        base_url="http://testserver",
    )

    def accept() -> None:
        invite_accept_new(
            digest=invite_digest(secret), login="newbie", name="", password=PASSWORD, address=None
        )

    refused_after_the_org_is_deleted(org, accept, Refusal)
    assert not User.objects.filter(username="newbie").exists()
