"""Two parallel requests on PostgreSQL against the decisions that lock a row.

Each scenario widens the race window: the service sleeps right after taking its lock, so
without the lock both requests would decide on the same stale state (and these tests fail).
"""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from accounts import services as account_services
from accounts.models import Membership, Team, TeamMember
from accounts.roles import Role
from accounts.teams import services as team_services
from tests.helpers import call, make_user

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL's row locks across real connections",
    ),
]

PAUSE = 0.2


def in_parallel(*requests) -> list:
    """Run each ``(login, method, url, body)`` in its own thread and connection at once."""
    start = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(index: int, login: str, method: str, url: str, body) -> None:
        try:
            start.wait()
            results[index] = call(Client(), method, url, body, as_user=login).status_code
        except Exception as exc:  # pragma: no cover - reported by the caller's assertions
            results[index] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, *request))
        for index, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def pause_after(monkeypatch, module, name: str) -> None:
    original = getattr(module, name)

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(PAUSE)
        return result

    monkeypatch.setattr(module, name, slow)


def test_two_admins_demoting_each_other_leave_one_admin(monkeypatch, org, admin):
    bob = make_user("bob", org, Role.ADMIN)
    pause_after(monkeypatch, account_services, "_lock_for_change")
    for _ in range(3):
        Membership.objects.filter(org=org).update(role=Role.ADMIN)
        results = in_parallel(
            ("alice", "PATCH", f"/api/org/users/{bob.pk}", {"role": "Viewer"}),
            ("bob", "PATCH", f"/api/org/users/{admin.pk}", {"role": "Viewer"}),
        )
        assert sorted(results) in ([200, 400], [200, 403]), results
        assert Membership.objects.filter(org=org, role=Role.ADMIN).count() == 1
    assert connection.vendor == "postgresql"


def test_two_admins_removing_each_other_leave_one_admin(monkeypatch, org, admin):
    pause_after(monkeypatch, account_services, "_lock_for_change")
    for round_number in range(3):
        Membership.objects.filter(org=org).update(role=Role.ADMIN)
        bob = make_user(f"bob{round_number}", org, Role.ADMIN)
        results = in_parallel(
            ("alice", "DELETE", f"/api/org/users/{bob.pk}", None),
            (bob.username, "DELETE", f"/api/org/users/{admin.pk}", None),
        )
        assert sorted(results) in ([200, 400], [200, 401], [200, 403]), results
        assert Membership.objects.filter(org=org, role=Role.ADMIN).count() == 1
        if not Membership.objects.filter(org=org, user=admin).exists():
            return  # alice is gone: nobody left to start another round as


def test_adding_a_member_racing_the_teams_delete(monkeypatch, org, admin, editor):
    pause_after(monkeypatch, team_services, "_lock_team")
    outcomes = set()
    for number in range(4):
        team = Team.objects.create(org=org, name=f"Doomed {number}")
        add = ("alice", "POST", f"/api/teams/{team.pk}/members", {"userId": editor.pk})
        delete = ("alice", "DELETE", f"/api/teams/{team.pk}", None)
        # Alternate who starts first so both orders of winning are exercised.
        requests = (add, delete) if number % 2 else (delete, add)
        results = in_parallel(*requests)
        added, deleted = results if number % 2 else results[::-1]
        assert deleted == 200, results
        assert added in (200, 404), results
        outcomes.add(added)
        assert not Team.objects.filter(pk=team.pk).exists()
    assert not TeamMember.objects.exists()
    assert outcomes <= {200, 404}
