"""The existing pages under the permission rules: an Editor holding a built-in permission
through a team uses what it governs, sees only the controls it allows, and nothing more."""

import pytest

from accounts.models import ServiceAccount
from accounts.roles import Role
from apikeys.models import ApiKey
from tests.helpers import grant, signed_in
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def account(make_account) -> ServiceAccount:
    return make_account("Grafana Backup", role=Role.EDITOR)


def test_editor_with_write_uses_the_service_account_pages_and_creates_a_token(editor, account):
    grant(editor, "serviceaccounts:write")
    client = signed_in(editor)
    html = client.get("/org/serviceaccounts").content.decode()
    assert "Grafana Backup" in html
    assert "Add service account" in html
    assert 'aria-label="Delete Grafana Backup"' in html

    response = client.post("/org/serviceaccounts/create", {"name": "ci", "role": "Editor"})
    created = ServiceAccount.objects.get(name="ci")
    assert response.url == f"/org/serviceaccounts/{created.pk}"
    assert client.get(response.url).status_code == 200
    client.post(f"/org/serviceaccounts/{account.pk}/name", {"name": "Backups"})
    client.post(f"/org/serviceaccounts/{account.pk}/role", {"role": "Viewer"})
    account.refresh_from_db()
    assert (account.name, account.role) == ("Backups", Role.VIEWER)

    response = client.post(
        f"/org/serviceaccounts/{account.pk}/tokens/new", {"name": "ci", "expiration": "never"}
    )
    assert response.status_code == 200
    assert "Service account token created" in response.content.decode()
    token = ServiceAccountToken.objects.get(service_account=account)
    assert (
        client.post(f"/org/serviceaccounts/{account.pk}/tokens/{token.pk}/delete").status_code
        == 302
    )
    assert client.post(f"/org/serviceaccounts/{account.pk}/delete").status_code == 302
    assert not ServiceAccount.objects.filter(pk=account.pk).exists()


def test_editor_cannot_mint_a_token_for_an_account_stronger_than_them(editor, make_account):
    grant(editor, "serviceaccounts:write")
    stronger = make_account("root-bot", role=Role.ADMIN)
    client = signed_in(editor)
    response = client.post(
        f"/org/serviceaccounts/{stronger.pk}/tokens/new", {"name": "t", "expiration": "never"}
    )
    assert response.status_code == 200
    assert "Cannot create a token for a service account whose role is higher" in (
        response.content.decode()
    )
    assert not ServiceAccountToken.objects.exists()


def test_editor_with_read_sees_accounts_without_write_controls(editor, account):
    grant(editor, "serviceaccounts:read")
    client = signed_in(editor)
    html = client.get("/org/serviceaccounts").content.decode()
    assert "Grafana Backup" in html
    assert "Add service account" not in html
    assert "Delete Grafana Backup" not in html
    assert 'name="role"' not in html
    detail = client.get(f"/org/serviceaccounts/{account.pk}").content.decode()
    assert "Grafana Backup" in detail
    for control in ("Delete service account", "Add service account token", ">Edit<", 'name="role"'):
        assert control not in detail, control
    base = f"/org/serviceaccounts/{account.pk}"
    for method, url in [
        ("get", "/org/serviceaccounts/create"),
        ("post", f"{base}/name"),
        ("post", f"{base}/disable"),
        ("get", f"{base}/tokens/new"),
    ]:
        assert getattr(client, method)(url, {"name": "x"}).status_code == 403, url
    assert client.get("/org/apikeys").status_code == 403


def test_editor_with_apikeys_write_uses_the_api_keys_pages(editor, make_key):
    grant(editor, "apikeys:write")
    make_key("deploy")
    client = signed_in(editor)
    assert "deploy" in client.get("/org/apikeys").content.decode()
    response = client.post("/org/apikeys/new", {"name": "mine", "role": "Editor", "ttl": "1d"})
    assert "mine" in response.content.decode()
    client.post("/org/apikeys/new", {"name": "boss", "role": "Admin", "ttl": "1d"})
    assert not ApiKey.objects.filter(name="boss").exists()  # the role ceiling
    assert client.post("/org/apikeys/migrate").status_code == 200
    assert not ApiKey.objects.filter(migrated_at__isnull=True).exists()
    assert client.get("/org/serviceaccounts").status_code == 403


def test_navigation_shows_only_what_the_user_may_use(editor, viewer, admin_client):
    grant(editor, "serviceaccounts:read")
    nav = signed_in(editor).get("/org/serviceaccounts").content.decode()
    assert 'href="/org/serviceaccounts"' in nav
    assert 'href="/org/apikeys"' not in nav
    admin_nav = admin_client.get("/org/serviceaccounts").content.decode()
    assert 'href="/org/apikeys"' in admin_nav
    profile = signed_in(viewer).get("/profile").content.decode()
    assert 'href="/org/serviceaccounts"' not in profile


def test_home_sends_users_without_access_to_their_profile(viewer, editor):
    assert signed_in(viewer).get("/").url == "/profile"
    grant(editor, "serviceaccounts:read")
    assert signed_in(editor).get("/").url == "/org/serviceaccounts"


def test_a_permission_change_applies_to_the_next_page(editor, account):
    client = signed_in(editor)
    assert client.get("/org/serviceaccounts").status_code == 403
    team = grant(editor, "serviceaccounts:read")
    assert client.get("/org/serviceaccounts").status_code == 200
    team.delete()
    assert client.get("/org/serviceaccounts").status_code == 403
