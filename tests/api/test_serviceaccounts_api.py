from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_create
from tests.helpers import bearer, call, grant
from tokens.models import ServiceAccountToken
from tokens.services import token_create

pytestmark = pytest.mark.django_db

LIST_FIELDS = {"id", "name", "login", "orgId", "isDisabled", "role", "tokens", "avatarUrl"}
PROFILE_FIELDS = LIST_FIELDS | {"createdAt", "updatedAt", "teams"}


def add_token(account: ServiceAccount, name: str, expires_at: datetime) -> None:
    digest = f"{ServiceAccountToken.objects.count():064x}"
    ServiceAccountToken.objects.create(
        service_account=account, name=name, digest=digest, expires_at=expires_at
    )


def test_create_returns_201_with_the_profile(client, admin, org):
    for url, name in (("/api/serviceaccounts", "grafana"), ("/api/serviceaccounts/", "ci")):
        response = call(client, "POST", url, {"name": name, "role": "Editor"})
        assert response.status_code == 201
        body = response.json()
        assert set(body) == PROFILE_FIELDS
        assert body["name"] == name
        assert body["login"] == f"sa-{org.pk}-{name}"
        assert (body["role"], body["isDisabled"], body["tokens"], body["orgId"]) == (
            "Editor",
            False,
            0,
            org.pk,
        )
        assert body["createdAt"].endswith("Z")


def test_create_defaults_to_viewer_and_accepts_is_disabled(client, admin):
    body = call(client, "POST", "/api/serviceaccounts", {"name": "x", "isDisabled": True}).json()
    assert (body["role"], body["isDisabled"]) == ("Viewer", True)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ("[1, 2]", 400),
        ({}, 400),
        ({"name": ""}, 400),
        ({"name": 42}, 400),
        ({"name": "x", "role": "Owner"}, 400),
        ({"name": "x", "role": 1}, 400),
        ({"name": "x", "isDisabled": "yes"}, 400),
        ({"name": "x" * 191}, 400),
    ],
)
def test_create_rejects_bad_bodies(client, admin, body, status):
    response = call(client, "POST", "/api/serviceaccounts", body)
    assert response.status_code == status
    assert set(response.json()) == {"message"}
    assert not ServiceAccount.objects.exists()


def test_duplicate_name_is_409(client, admin, make_account):
    make_account("Grafana")
    response = call(client, "POST", "/api/serviceaccounts", {"name": "grafana"})
    assert response.status_code == 409
    assert "already exists" in response.json()["message"]


def test_get_patch_delete(client, admin, make_account):
    account = make_account("bot")
    ServiceAccountToken.objects.create(service_account=account, name="t", digest="b" * 64)
    url = f"/api/serviceaccounts/{account.pk}"
    body = call(client, "GET", f"{url}?accesscontrol=true").json()
    assert set(body) == PROFILE_FIELDS
    assert body["tokens"] == 1
    assert body["teams"] == ["Everyone"]

    response = call(client, "PATCH", url, {"name": "robot", "role": "Admin", "isDisabled": True})
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Service account updated"
    assert (body["id"], body["name"]) == (account.pk, "robot")
    assert set(body["serviceaccount"]) == PROFILE_FIELDS
    assert body["serviceaccount"]["role"] == "Admin"
    assert body["serviceaccount"]["isDisabled"] is True
    assert body["serviceaccount"]["login"] == account.login

    response = call(client, "DELETE", url)
    assert response.json() == {"message": "Service account deleted"}
    assert call(client, "GET", url).status_code == 404
    assert not ServiceAccountToken.objects.exists()


@pytest.mark.parametrize(
    "body", [{"role": "Boss"}, {"name": ""}, {"isDisabled": 1}, {"role": 5}, "nope"]
)
def test_patch_rejects_bad_bodies_and_changes_nothing(client, admin, make_account, body):
    account = make_account("bot")
    response = call(client, "PATCH", f"/api/serviceaccounts/{account.pk}", body)
    assert response.status_code == 400
    account.refresh_from_db()
    assert (account.name, account.role, account.is_disabled) == ("bot", "Viewer", False)


def test_patch_to_a_taken_name_is_409(client, admin, make_account):
    make_account("one")
    two = make_account("two")
    response = call(client, "PATCH", f"/api/serviceaccounts/{two.pk}", {"name": "ONE"})
    assert response.status_code == 409


@pytest.mark.parametrize("sa_id", ["abc", "0", "-1", "1.5", "99999999999999999999999", "9" * 19])
def test_impossible_ids_are_404(client, admin, sa_id):
    for method in ("GET", "PATCH", "DELETE"):
        assert call(client, method, f"/api/serviceaccounts/{sa_id}", {}).status_code == 404


def test_another_orgs_account_is_404(client, admin, outsider, other_org):
    theirs = service_account_create(
        identity=Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider), name="x"
    )
    for method in ("GET", "PATCH", "DELETE"):
        response = call(client, method, f"/api/serviceaccounts/{theirs.pk}", {"name": "y"})
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "x"
    search = call(client, "GET", "/api/serviceaccounts/search").json()
    assert search["totalCount"] == 0


@pytest.mark.parametrize("persona", ["editor", "viewer", "no_role"])
def test_non_admins_are_forbidden_everywhere(client, request, persona, make_account):
    user = request.getfixturevalue(persona)
    account = make_account("bot")
    requests = [
        ("GET", "/api/serviceaccounts/search", None),
        ("POST", "/api/serviceaccounts", {"name": "new"}),
        ("GET", f"/api/serviceaccounts/{account.pk}", None),
        ("PATCH", f"/api/serviceaccounts/{account.pk}", {"name": "z"}),
        ("DELETE", f"/api/serviceaccounts/{account.pk}", None),
    ]
    for method, url, body in requests:
        assert call(client, method, url, body, as_user=user.username).status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"role": "Viewer"}),
        ("PATCH", "", {"isDisabled": True}),
        ("PATCH", "", {"name": "renamed"}),
        ("DELETE", "", None),
        ("PUT", "/permissions", {"permissions": []}),
    ],
)
def test_an_editor_with_serviceaccounts_write_cannot_change_an_admin_account(
    client, editor, make_account, method, path, body
):
    grant(editor, "serviceaccounts:write")
    account = make_account("automation", role=Role.ADMIN)
    grant(account, "serviceaccounts:read")
    url = f"/api/serviceaccounts/{account.pk}{path}"
    response = call(client, method, url, body, as_user="eddie")
    assert response.status_code == 403
    assert "role is higher than yours" in response.json()["message"]
    account.refresh_from_db()
    assert (account.name, account.role, account.is_disabled) == ("automation", "Admin", False)
    assert list(account.permission_grants.values_list("permission", flat=True)) == [
        "serviceaccounts:read"
    ]
    # An account of their own role stays theirs to manage.
    own = make_account("own", role=Role.EDITOR)
    response = call(client, method, f"/api/serviceaccounts/{own.pk}{path}", body, as_user="eddie")
    assert response.status_code == 200, response.content


def test_unauthenticated_is_401(client, make_account):
    assert client.get("/api/serviceaccounts/search").status_code == 401
    assert client.post("/api/serviceaccounts", {}).status_code == 401


def test_wrong_method_is_405(client, admin, make_account):
    account = make_account("bot")
    assert call(client, "PUT", f"/api/serviceaccounts/{account.pk}", {}).status_code == 405
    assert call(client, "DELETE", "/api/serviceaccounts/search").status_code == 405
    assert call(client, "GET", "/api/serviceaccounts").status_code == 405


class TestSearch:
    def test_shape_and_paging_to_the_end(self, client, admin, make_account):
        for number in range(7):
            make_account(f"bot {number}")
        seen = []
        for page in (1, 2, 3):
            body = call(client, "GET", f"/api/serviceaccounts/search?perpage=3&page={page}").json()
            assert body["totalCount"] == 7
            assert (body["page"], body["perPage"]) == (page, 3)
            seen += [account["name"] for account in body["serviceAccounts"]]
            for account in body["serviceAccounts"]:
                assert set(account) == LIST_FIELDS
        assert seen == [f"bot {number}" for number in range(7)]
        past = call(client, "GET", "/api/serviceaccounts/search?perpage=3&page=4").json()
        assert past["serviceAccounts"] == []
        assert past["totalCount"] == 7

    def test_query_matches_name_or_login_case_insensitively(self, client, admin, make_account):
        make_account("Grafana Backup")
        make_account("ÄRGER")
        make_account("other")

        def names(query):
            url = f"/api/serviceaccounts/search?query={query}"
            return [a["name"] for a in call(client, "GET", url).json()["serviceAccounts"]]

        assert names("backup") == ["Grafana Backup"]
        assert names("GRAFANA-BACK") == ["Grafana Backup"]  # the login
        assert names("ärger") == ["ÄRGER"]
        assert names("nothing") == []

    def test_filters(self, client, admin, make_account):
        make_account("on")
        make_account("off", is_disabled=True)
        stale = make_account("stale")
        ServiceAccountToken.objects.create(
            service_account=stale,
            name="old",
            digest="c" * 64,
            expires_at=timezone.now() - timedelta(days=1),
        )

        def names(params):
            url = f"/api/serviceaccounts/search?{params}"
            return [a["name"] for a in call(client, "GET", url).json()["serviceAccounts"]]

        assert names("disabled=true") == ["off"]
        assert names("expiredTokens=true") == ["stale"]
        assert names("") == ["off", "on", "stale"]

    def test_counts_and_the_expired_filter_are_exact_across_pages(
        self, client, admin, make_account
    ):
        now = timezone.now()
        expected = {}
        for number in range(7):
            account = make_account(f"bot {number}")
            expired = number % 3  # 0, 1 or 2 expired tokens
            for index in range(number):
                gone = index < expired
                add_token(account, f"t{index}", now + timedelta(days=-1 if gone else 30))
            if expired:
                expected[account.name] = number
        seen = {}
        for page in (1, 2, 3):
            url = f"/api/serviceaccounts/search?expiredTokens=true&perpage=2&page={page}"
            body = call(client, "GET", url).json()
            assert body["totalCount"] == len(expected)
            seen |= {row["name"]: row["tokens"] for row in body["serviceAccounts"]}
        assert seen == expected

    @pytest.mark.parametrize(
        "params", ["", "&expiredTokens=true", "&expiringTokens=true", "&disabled=false"]
    )
    def test_a_page_costs_the_same_queries_for_1_or_50_rows_whatever_the_tokens(
        self, client, make_account, org_admin, django_assert_num_queries, params
    ):
        caller = make_account("caller", role=Role.ADMIN)
        _, secret = token_create(identity=org_admin, account=caller, name="t", expires_at=None)
        url = f"/api/serviceaccounts/search?query=bot&perpage=50{params}"
        client.get(url, **bearer(secret))  # the first use writes last_used_at
        now = timezone.now()
        for size in (1, 50):
            while ServiceAccount.objects.filter(name__startswith="bot").count() < size:
                account = make_account(f"bot {size}-{ServiceAccount.objects.count()}")
                # One expired, one expiring soon, and many that are neither.
                add_token(account, "expired", now - timedelta(days=1))
                add_token(account, "expiring", now + timedelta(days=2))
                for index in range(size // 10):
                    add_token(account, f"later {index}", now + timedelta(days=90))
            # The token's lookup, the count and the page: nothing per row or per token.
            with django_assert_num_queries(3):
                body = client.get(url, **bearer(secret)).json()
            assert body["totalCount"] == len(body["serviceAccounts"]) == size
            assert {row["tokens"] for row in body["serviceAccounts"]} <= {2, 7}

    @pytest.mark.parametrize("params", ["page=0", "page=x", "perpage=-1", "perpage=1001"])
    def test_bad_paging_is_400(self, client, admin, params):
        response = call(client, "GET", f"/api/serviceaccounts/search?{params}")
        assert response.status_code == 400


def test_patch_with_null_role_leaves_the_role(client, admin, make_account):
    account = make_account("bot", role=Role.EDITOR)
    response = call(client, "PATCH", f"/api/serviceaccounts/{account.pk}", {"role": None})
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.role == "Editor"
