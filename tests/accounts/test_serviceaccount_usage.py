"""The service account page's "Use this account's tokens" panel: the verify URL with the
account's org and effective permissions, and the README's tested nginx snippet asking for them."""

import re

import pytest

from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.teams.services import (
    permission_create,
    team_create,
    team_member_add,
    team_permissions_set,
)
from accounts.verification import NGINX_SNIPPET, SNIPPET_QUERY
from tests.helpers import bearer, grant, htmx_to, page_text
from tokens.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(make_account, org_admin) -> ServiceAccount:
    """Holds alerts:read individually and metrics:ingest through the team Ingest."""
    account = make_account("robot")
    permission_create(identity=org_admin, name="alerts:read")
    grant(account, "alerts:read")
    permission_create(identity=org_admin, name="metrics:ingest")
    team = team_create(identity=org_admin, name="Ingest")
    team_permissions_set(identity=org_admin, team=team, permissions=["metrics:ingest"])
    team_member_add(identity=org_admin, team=team, service_account=account)
    return account


def panel(client, account: ServiceAccount, **headers) -> str:
    html = page_text(client.get(f"/org/serviceaccounts/{account.pk}", **headers))
    start = html.index('id="sa-usage"')
    return html[start : html.index("</section>", start)]


def verify_url(html: str) -> str:
    return re.search(r'id="sa-verify-url" type="text" value="([^"]+)"', html).group(1)


def test_the_verify_url_asks_for_the_org_and_the_effective_permissions(admin_client, account, org):
    html = panel(admin_client, account)
    assert "Use this account's tokens" in html
    assert verify_url(html) == (
        f"http://testserver/api/auth/verify?org={org.pk}"
        "&permission=alerts:read&permission=metrics:ingest"
    )
    assert 'data-copy="#sa-verify-url"' in html
    assert 'data-copy="#sa-nginx-snippet"' in html


def test_the_nginx_snippet_is_the_tested_one_asking_for_the_same(admin_client, account, org):
    html = panel(admin_client, account)
    snippet = html[html.index("<textarea") : html.index("</textarea>")]
    snippet = snippet[snippet.index(">") + 1 :]
    query = f"org={org.pk}&permission=alerts:read&permission=metrics:ingest"
    assert f"proxy_pass http://keyhouse/api/auth/verify?{query};" in snippet
    tested = NGINX_SNIPPET.read_text()
    assert snippet.startswith(tested.replace(SNIPPET_QUERY, query))
    assert "upstream keyhouse { server testserver; }" in snippet


def test_the_url_shown_lets_the_accounts_tokens_through(admin_client, account, org_admin, client):
    url = verify_url(panel(admin_client, account)).removeprefix("http://testserver")
    _, secret = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    assert client.get(url, **bearer(secret)).status_code == 200
    other = ServiceAccount.objects.create(org=account.org, name="o", login="sa-o")
    grant(other, "alerts:read")
    _, lacking = token_create(identity=org_admin, account=other, name="t", expires_at=None)
    assert client.get(url, **bearer(lacking)).status_code == 403


def test_an_admin_account_asks_for_the_whole_catalogue(admin_client, make_account, org):
    boss = make_account("boss", role=Role.ADMIN)
    assert "permission=tokens:introspect" in verify_url(panel(admin_client, boss))


def test_an_account_without_permissions_asks_for_its_org_only(admin_client, make_account, org):
    html = panel(admin_client, make_account("bare"))
    assert verify_url(html) == f"http://testserver/api/auth/verify?org={org.pk}"


def test_it_refreshes_itself_when_permissions_change(admin_client, account, org_admin):
    html = panel(admin_client, account, **htmx_to("sa-usage"))
    assert 'hx-trigger="permissionsChanged from:body' in html
    response = admin_client.get(f"/org/serviceaccounts/{account.pk}", **htmx_to("sa-usage"))
    assert page_text(response).strip().startswith('<section class="card" id="sa-usage"')
    permission_create(identity=org_admin, name="zones:read")
    grant(account, "zones:read")
    assert "permission=zones:read" in verify_url(panel(admin_client, account))
