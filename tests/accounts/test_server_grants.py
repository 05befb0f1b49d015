"""Server grants (``tokens:report-leak``): given to one service account of any org, and taken
away, by server admins through Keyhouse's own service, page (Server admin → Server grants) and
API (``/api/admin/grants``); each change audited in its transaction; two gives at once leave
one holder."""

from __future__ import annotations

import time

import pytest
from django.db import DatabaseError
from django.test import Client

from accounts.errors import NotFound
from accounts.models import AuditEvent, ServerGrant, ServiceAccount
from accounts.services import service_account_create
from accounts.teams import services
from accounts.teams.services import server_grant_give, server_grant_remove
from tests.accounts.test_audit import fail_on_writes
from tests.helpers import (
    HTMX,
    SYSTEM,
    call,
    identity_of,
    in_parallel,
    needs_postgresql,
    page_text,
    signed_in,
)

pytestmark = pytest.mark.django_db

LEAK = "tokens:report-leak"
PAGE = "/admin/grants"
REMOVE = f"{PAGE}/{LEAK}/remove"
API = "/api/admin/grants"


@pytest.fixture
def scanner(make_account) -> ServiceAccount:
    return make_account("scanner")


@pytest.fixture
def globex_bot(outsider, other_org) -> ServiceAccount:
    return service_account_create(identity=identity_of(outsider, other_org), name="globex-bot")


def holder() -> ServiceAccount | None:
    grant = ServerGrant.objects.filter(permission=LEAK).first()
    return grant.service_account if grant else None


def grant_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__startswith="servergrant.").order_by("pk"))


class TestService:
    def test_give_replace_and_remove_are_audited_at_server_level(
        self, server_admin, scanner, globex_bot, org, other_org
    ):
        server_grant_give(actor=SYSTEM, permission=LEAK, account=scanner)
        server_grant_give(actor=SYSTEM, permission=LEAK, account=scanner)  # no change, no event
        server_grant_give(actor=SYSTEM, permission=LEAK, account=globex_bot)
        assert holder() == globex_bot
        assert ServerGrant.objects.count() == 1
        server_grant_remove(actor=SYSTEM, permission=LEAK)
        assert holder() is None
        given, replaced, removed = grant_events()
        assert all(event.org_id is None for event in (given, replaced, removed))
        assert (given.action, given.target_type, given.target_id) == (
            "servergrant.give",
            "service-account",
            scanner.pk,
        )
        assert given.details == {"permission": LEAK, "org": {"id": org.pk, "name": org.name}}
        assert replaced.target_id == globex_bot.pk
        assert replaced.details["org"] == {"id": other_org.pk, "name": other_org.name}
        assert replaced.details["replaced"] == {
            "id": scanner.pk,
            "name": "scanner",
            "org": {"id": org.pk, "name": org.name},
        }
        assert (removed.action, removed.target_id) == ("servergrant.remove", globex_bot.pk)

    def test_unknown_permission_deleted_account_and_nobody_to_remove(self, scanner):
        with pytest.raises(NotFound):
            server_grant_give(actor=SYSTEM, permission="metrics:ingest", account=scanner)
        with pytest.raises(NotFound):
            server_grant_remove(actor=SYSTEM, permission=LEAK)
        ServiceAccount.objects.filter(pk=scanner.pk).delete()
        with pytest.raises(NotFound):
            server_grant_give(actor=SYSTEM, permission=LEAK, account=scanner)
        assert not ServerGrant.objects.exists()
        assert not grant_events()

    @pytest.mark.parametrize("action", ["servergrant.give", "servergrant.remove"])
    def test_a_failing_event_undoes_the_change(self, monkeypatch, scanner, globex_bot, action):
        server_grant_give(actor=SYSTEM, permission=LEAK, account=scanner)
        fail_on_writes(monkeypatch, action)
        change = {
            "servergrant.give": lambda: server_grant_give(
                actor=SYSTEM, permission=LEAK, account=globex_bot
            ),
            "servergrant.remove": lambda: server_grant_remove(actor=SYSTEM, permission=LEAK),
        }[action]
        with pytest.raises(DatabaseError):
            change()
        assert holder() == scanner


class TestPage:
    def test_only_server_admins(self, admin, scanner, server_admin):
        server_grant_give(actor=SYSTEM, permission=LEAK, account=scanner)
        for url in (PAGE, REMOVE):
            assert signed_in(admin).get(url).status_code == 403
            assert signed_in(admin).post(url, {"org": 1, "account": "x"}).status_code == 403
            assert Client().get(url).status_code == 302
        assert holder() == scanner

    def test_give_shows_the_holder_and_replaces_it(
        self, server_admin, scanner, globex_bot, org, other_org
    ):
        client = signed_in(server_admin)
        nobody = page_text(client.get(PAGE))
        assert "Server admins only" in nobody
        assert 'href="/admin/grants"' in nobody
        data = {"permission": LEAK, "org": org.pk, "account": "SCANNER"}
        response = client.post(PAGE, data, follow=True)
        assert holder() == scanner
        html = page_text(response)
        assert f"scanner ({org.name}) now holds {LEAK}." in html
        assert f"<td>{org.name}</td>" in html
        assert "<td>scanner</td>" in html
        client.post(PAGE, {**data, "org": other_org.pk, "account": "globex-bot"})
        assert holder() == globex_bot
        assert [event.actor_name for event in grant_events()] == ["root", "root"]

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"account": "ghost"}, "Acme has no service account named 'ghost'."),
            ({"account": ""}, "This field is required."),
            ({"org": "999999"}, "Select a valid choice."),
            ({"permission": "metrics:ingest"}, "Select a valid choice."),
        ],
    )
    def test_bad_input_is_a_form_error(self, server_admin, scanner, org, data, error):
        body = {"permission": LEAK, "org": org.pk, "account": "scanner", **data}
        response = signed_in(server_admin).post(PAGE, body)
        assert response.status_code == 200
        assert error in page_text(response)
        assert not ServerGrant.objects.exists()

    def test_remove_asks_first_then_removes(self, server_admin, scanner, org):
        server_grant_give(actor=SYSTEM, permission=LEAK, account=scanner)
        client = signed_in(server_admin)
        assert 'href="/admin/grants/tokens:report-leak/remove"' in page_text(client.get(PAGE))
        question = page_text(client.get(REMOVE))
        assert f"Take {LEAK} away from the service account 'scanner' of {org.name}?" in question
        assert holder() == scanner
        response = client.post(REMOVE)
        assert response["Location"] == PAGE
        assert holder() is None
        assert client.post(REMOVE).status_code == 404  # nobody holds it any more
        assert client.get(f"{PAGE}/metrics:ingest/remove").status_code == 404

    def test_remove_in_a_dialog_refreshes_the_page(self, server_admin, scanner):
        server_grant_give(actor=SYSTEM, permission=LEAK, account=scanner)
        client = signed_in(server_admin)
        assert "<dialog" in page_text(client.get(REMOVE, **HTMX))
        response = client.post(REMOVE, **HTMX)
        assert response["HX-Refresh"] == "true"
        assert holder() is None


class TestApi:
    def test_give_list_and_remove(self, client, server_admin, scanner, globex_bot, other_org):
        assert call(client, "GET", API, as_user="root").json() == []
        given = call(
            client, "PUT", f"{API}/{LEAK}", {"serviceAccountId": scanner.pk}, as_user="root"
        )
        assert given.status_code == 200
        assert given.json()["serviceAccountName"] == "scanner"
        call(client, "PUT", f"{API}/{LEAK}", {"serviceAccountId": globex_bot.pk}, as_user="root")
        [listed] = call(client, "GET", API, as_user="root").json()
        assert {key: listed[key] for key in ("permission", "serviceAccountId", "orgName")} == {
            "permission": LEAK,
            "serviceAccountId": globex_bot.pk,
            "orgName": other_org.name,
        }
        removed = call(client, "DELETE", f"{API}/{LEAK}", as_user="root")
        assert removed.json() == {"message": "Server grant removed"}
        assert holder() is None
        assert len(grant_events()) == 3

    @pytest.mark.parametrize(
        ("permission", "body", "status"),
        [
            ("metrics:ingest", {"serviceAccountId": "scanner"}, 404),
            (LEAK, {"serviceAccountId": 10**9}, 404),
            (LEAK, {"serviceAccountId": 0}, 400),
            (LEAK, {"serviceAccountId": "1"}, 400),
            (LEAK, {"serviceAccountId": True}, 400),
            (LEAK, {}, 400),
            (LEAK, [], 400),
            (LEAK, "{", 400),
        ],
    )
    def test_refusals(self, client, server_admin, scanner, permission, body, status):
        if isinstance(body, dict) and body.get("serviceAccountId") == "scanner":
            body = {"serviceAccountId": scanner.pk}
        response = call(client, "PUT", f"{API}/{permission}", body, as_user="root")
        assert response.status_code == status
        assert response.json()["message"]
        assert not ServerGrant.objects.exists()

    def test_only_server_admins(self, client, admin, scanner):
        body = {"serviceAccountId": scanner.pk}
        assert call(client, "GET", API).status_code == 403
        assert call(client, "PUT", f"{API}/{LEAK}", body).status_code == 403
        assert call(client, "DELETE", f"{API}/{LEAK}").status_code == 403
        assert not ServerGrant.objects.exists()


@needs_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held_before", [False, True])
def test_two_gives_at_once_leave_one_holder(monkeypatch, make_account, held_before):
    first, second, third = make_account("first"), make_account("second"), make_account("third")
    if held_before:
        server_grant_give(actor=SYSTEM, permission=LEAK, account=third)
    original = services._lock_server_grant

    def slow(permission: str):
        grant = original(permission)
        time.sleep(0.2)  # without the lock, both would read the same holder and go ahead
        return grant

    monkeypatch.setattr(services, "_lock_server_grant", slow)
    accounts = iter([first, second])

    def give() -> int:
        account = next(accounts)
        return server_grant_give(actor=SYSTEM, permission=LEAK, account=account).pk

    in_parallel(2, give)
    assert ServerGrant.objects.count() == 1
    winner = holder()
    assert winner in (first, second)
    events = grant_events()[1 if held_before else 0 :]
    assert len(events) == 2  # both gives happened, one after the other
    assert events[-1].target_id == winner.pk
    loser = first if winner == second else second
    assert events[-1].details["replaced"]["id"] == loser.pk
