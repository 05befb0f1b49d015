"""Reading the audit log: ``GET /api/audit`` and Configuration → Audit log. Paging newest first,
the filters, org scoping, who may read it, and the server admin's server-level events."""

import pytest
from django.test import Client

from accounts.audit.services import Actor, record
from accounts.models import AuditEvent, AuditTally
from accounts.roles import Role
from accounts.services import service_account_create, service_account_update
from tests.helpers import HTMX, call, grant, identity_of, page_text, signed_in
from tokens.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(org_admin, outsider, other_org):
    """Three events in Acme (two accounts, one rename) and one in Globex."""
    first = service_account_create(identity=org_admin, name="first")
    second = service_account_create(identity=org_admin, name="second")
    service_account_update(identity=org_admin, account=first, name="First")
    service_account_create(identity=identity_of(outsider, other_org), name="globex bot")
    return first, second


def ids(response) -> list[int]:
    return [event["id"] for event in response.json()["events"]]


def acme_events() -> list[int]:
    return list(
        AuditEvent.objects.filter(org_id__isnull=False)
        .exclude(actor_name="oscar")
        .order_by("-time", "-id")
        .values_list("id", flat=True)
    )


class TestApi:
    def test_pages_newest_first(self, client, admin, history):
        newest = acme_events()
        first = call(client, "GET", "/api/audit?perpage=2")
        assert first.status_code == 200
        assert (first.json()["totalCount"], first.json()["page"], first.json()["perPage"]) == (
            3,
            1,
            2,
        )
        assert ids(first) == newest[:2]
        assert ids(call(client, "GET", "/api/audit?perpage=2&page=2")) == newest[2:]
        assert ids(call(client, "GET", "/api/audit?perpage=2&page=3")) == []

    def test_an_event_as_the_api_shows_it(self, client, admin, org, history):
        first, _ = history
        [event] = call(client, "GET", "/api/audit?action=serviceaccount.update").json()["events"]
        assert event["orgId"] == org.pk
        assert event["actor"] == {"type": "user", "id": admin.pk, "name": "alice"}
        assert event["target"] == {"type": "service-account", "id": first.pk, "name": "First"}
        assert event["details"] == {"name": {"from": "first", "to": "First"}}
        assert event["time"].endswith("Z")

    def test_filters(self, client, admin, org_admin, history):
        first, second = history
        token_create(identity=org_admin, account=second, name="t", expires_at=None)

        def found(query: str) -> tuple[int, list[str]]:
            body = call(client, "GET", f"/api/audit?{query}").json()
            return body["totalCount"], [event["action"] for event in body["events"]]

        assert found("action=serviceaccount") == (
            3,
            ["serviceaccount.update", "serviceaccount.create", "serviceaccount.create"],
        )
        assert found("action=token.create") == (1, ["token.create"])
        assert found("action=token.cre") == (0, [])  # a family is a whole dotted part
        assert found("actorType=system") == (0, [])
        assert found(f"targetType=service-account&targetId={first.pk}") == (
            2,
            ["serviceaccount.update", "serviceaccount.create"],
        )
        assert found(f"serviceAccountId={second.pk}") == (
            2,
            ["token.create", "serviceaccount.create"],
        )

    @pytest.mark.parametrize(
        "query",
        [
            "actorType=robot",
            "targetType=planet",
            "targetId=0",
            "targetId=x",
            "page=0",
            "perpage=1001",
        ],
    )
    def test_bad_filters_are_400(self, client, admin, query):
        response = call(client, "GET", f"/api/audit?{query}")
        assert response.status_code == 400
        assert "message" in response.json()

    def test_another_orgs_events_are_invisible(self, client, outsider, history):
        body = call(client, "GET", "/api/audit", as_user="oscar").json()
        assert body["totalCount"] == 1
        assert [event["target"]["name"] for event in body["events"]] == ["globex bot"]
        first, _ = history
        filtered = call(client, "GET", f"/api/audit?targetId={first.pk}", as_user="oscar")
        assert filtered.json()["totalCount"] == 0

    def test_who_may_read_it(self, client, editor, viewer, history):
        assert call(client, "GET", "/api/audit", as_user="vera").status_code == 403
        assert call(client, "GET", "/api/audit", as_user="eddie").status_code == 403
        grant(editor, "audit:read")
        assert call(client, "GET", "/api/audit", as_user="eddie").json()["totalCount"] == 3

    def test_a_token_with_audit_read_may_read_it(self, client, org_admin, history):
        reader = service_account_create(identity=org_admin, name="siem", role=Role.VIEWER)
        _, secret = token_create(identity=org_admin, account=reader, name="t", expires_at=None)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        assert client.get("/api/audit", **headers).status_code == 403
        grant(reader, "audit:read")
        assert client.get("/api/audit", **headers).json()["totalCount"] == 5

    def test_it_is_read_only(self, client, admin):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert call(client, method, "/api/audit", {}).status_code == 405

    def test_server_admins_also_see_server_level_events(self, client, admin, server_admin, org):
        Client().post("/login", {"username": "alice", "password": "not-her-password"})
        assert call(client, "GET", "/api/audit").json()["totalCount"] == 0
        as_root = call(
            client, "GET", "/api/audit", as_user="root", HTTP_X_GRAFANA_ORG_ID=str(org.pk)
        ).json()
        actions = [event["action"] for event in as_root["events"]]
        # alice's Basic sign-in above and root's for this very request are server level too
        assert sorted(actions) == ["signin.failure", "signin.success", "signin.success"]
        assert all(event["orgId"] is None for event in as_root["events"])
        assert as_root["totalCount"] == 3

    def test_the_tally_is_the_count(self, org, org_admin, history):
        for scope in AuditTally.objects.all():
            org_id = None if scope.scope == 0 else scope.scope
            assert scope.events == AuditEvent.objects.filter(org_id=org_id).count()
        record("audit.prune", actor=Actor.system("tests"), org=None)
        assert AuditTally.objects.get(scope=0).events == 1


class TestPage:
    def test_lists_events_newest_first_with_a_nav_entry(self, admin_client, history):
        response = admin_client.get("/org/audit")
        assert response.status_code == 200
        html = page_text(response)
        assert 'aria-current="page">Audit log' in html
        assert html.index("<code>serviceaccount.update") < html.index("<code>serviceaccount.create")
        assert "globex bot" not in html
        assert "alice" in html

    def test_filters_and_paging(self, admin_client, org_admin, history, monkeypatch):
        monkeypatch.setattr("accounts.audit.views.PER_PAGE", 2)
        html = page_text(admin_client.get("/org/audit"))
        assert "Page 1 of 2 · 3 events" in html
        assert "Page 2 of 2" in page_text(admin_client.get("/org/audit?page=2"))
        filtered = page_text(admin_client.get("/org/audit?action=serviceaccount.update"))
        assert filtered.count("<code>serviceaccount.") == 1

    def test_htmx_swaps_only_the_results(self, admin_client, history):
        response = admin_client.get(
            "/org/audit?actorType=user", **HTMX, HTTP_HX_TARGET="audit-results"
        )
        html = page_text(response)
        assert html.strip().startswith('<div id="audit-results"')
        assert "<h1>" not in html

    def test_bad_filters_are_form_errors(self, admin_client, history):
        response = admin_client.get("/org/audit?targetId=nope&actorType=robot")
        assert response.status_code == 200
        html = page_text(response)
        assert "Enter a whole number." in html
        assert "Correct the filters above" in html
        assert "<code>serviceaccount.create" not in html

    def test_service_account_page_links_to_its_events(self, admin_client, history):
        first, _ = history
        html = page_text(admin_client.get(f"/org/serviceaccounts/{first.pk}"))
        assert f"/org/audit?serviceAccountId={first.pk}" in html
        events = page_text(admin_client.get(f"/org/audit?serviceAccountId={first.pk}"))
        assert events.count("<code>serviceaccount.") == 2

    def test_readers_only(self, editor, viewer, history):
        assert signed_in(viewer).get("/org/audit").status_code == 403
        client = signed_in(editor)
        assert client.get("/org/audit").status_code == 403
        assert "/org/audit" not in page_text(client.get("/profile"))
        grant(editor, "audit:read")
        assert client.get("/org/audit").status_code == 200

    def test_server_admins_see_server_events_marked(self, server_admin, org, admin):
        Client().post("/login", {"username": "alice", "password": "not-her-password"})
        html = page_text(signed_in(server_admin).get("/org/audit"))
        assert "<code>signin.failure" in html
        assert '<span class="badge">Server</span>' in html
        assert "<code>signin.failure" not in page_text(signed_in(admin).get("/org/audit"))
