from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ServiceAccount
from apikeys import format as key_format
from apikeys.models import ApiKey
from tests.apikeys.conftest import bearer
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def secret_in(html: str) -> str:
    start = html.index('id="apikey-secret"')
    value = html[html.index('value="', start) + 7 :]
    return value[: value.index('"')]


class TestPage:
    def test_lists_keys_with_the_banner(self, admin_client, make_key):
        make_key("deploy")
        old, _ = make_key("old")
        ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
        html = admin_client.get("/org/apikeys").content.decode()
        assert "Switch from API keys to service accounts" in html
        assert "Migrate to service accounts now" in html
        assert "deploy" in html
        assert ">old<" not in html
        html = admin_client.get("/org/apikeys", {"includeExpired": "true"}).content.decode()
        assert ">old<" in html
        assert "Expired" in html
        assert 'class="is-dimmed"' in html

    def test_nav_shows_api_keys(self, admin_client):
        html = admin_client.get("/org/serviceaccounts").content.decode()
        assert 'href="/org/apikeys"' in html

    def test_create_reveals_the_key_once(self, admin_client, client):
        response = admin_client.post(
            "/org/apikeys/new", {"name": "ci", "role": "Editor", "ttl": "7d"}, **HTMX
        )
        assert response["HX-Trigger"] == "apiKeysChanged"
        assert "no-store" in response["Cache-Control"]
        html = response.content.decode()
        assert "You will only be able to view this key here once!" in html
        secret = secret_in(html)
        assert f"Authorization: Bearer {secret}" in html
        key = ApiKey.objects.get()
        assert key.digest == key_format.digest(secret)
        assert timedelta(days=6, hours=23) < key.expires_at - timezone.now() <= timedelta(days=7)
        assert secret not in admin_client.get("/org/apikeys").content.decode()
        assert client.get("/api/org", **bearer(secret)).status_code == 200

    def test_create_without_javascript_answers_with_the_whole_page(self, admin_client):
        response = admin_client.post(
            "/org/apikeys/new", {"name": "ci", "role": "Viewer", "ttl": "1h"}
        )
        assert response.status_code == 200
        assert b"<html" in response.content
        assert b"You will only be able to view this key here once!" in response.content

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"name": "ci", "role": "Viewer", "ttl": "soon"}, "Not a valid duration"),
            ({"name": "ci", "role": "Viewer", "ttl": "2M"}, "greater than the global limit"),
            ({"name": "ci", "role": "Viewer", "ttl": ""}, "should be set"),
            ({"name": "", "role": "Viewer", "ttl": "1d"}, "This field is required."),
            ({"name": "ci", "role": "Root", "ttl": "1d"}, "Select a valid choice"),
        ],
    )
    def test_form_errors(self, admin_client, data, error):
        html = admin_client.post("/org/apikeys/new", data, **HTMX).content.decode()
        assert error in html
        assert not ApiKey.objects.exists()

    def test_delete_with_confirmation(self, admin_client, make_key):
        key, _ = make_key("doomed")
        url = f"/org/apikeys/{key.pk}/delete"
        assert (
            "Are you sure you want to delete the API key" in admin_client.get(url).content.decode()
        )
        assert admin_client.post(url).url == "/org/apikeys"
        assert not ApiKey.objects.exists()

    def test_htmx_delete_redirects_the_client(self, admin_client, make_key):
        key, _ = make_key("doomed")
        response = admin_client.post(f"/org/apikeys/{key.pk}/delete", **HTMX)
        assert response["HX-Redirect"] == "/org/apikeys"

    def test_migrate_one_key(self, admin_client, client, make_key):
        key, secret = make_key("deploy")
        assert (
            "Migrate the API key"
            in admin_client.get(f"/org/apikeys/{key.pk}/migrate").content.decode()
        )
        admin_client.post(f"/org/apikeys/{key.pk}/migrate")
        key.refresh_from_db()
        assert key.service_account.name == "sa-autogen-deploy"
        assert client.get("/api/org", **bearer(secret)).status_code == 200


class TestWizard:
    def test_preview_then_summary_then_card_then_hide(self, admin_client, client, make_key, org):
        _, secret = make_key("deploy", role="Editor")
        make_key("backup")
        preview = admin_client.get("/org/apikeys/migrate").content.decode()
        assert "2 API keys will become service accounts" in preview
        assert "sa-autogen-deploy" in preview
        assert "Yes, migrate now" in preview
        assert not ServiceAccount.objects.exists()

        summary = admin_client.post("/org/apikeys/migrate").content.decode()
        assert "Migration summary" in summary
        assert "<dt>Migrated</dt><dd>2</dd>" in summary
        assert client.get("/api/org", **bearer(secret)).status_code == 200

        page = admin_client.get("/org/apikeys").content.decode()
        assert "API keys were migrated to service accounts" in page
        assert "Hide API keys page forever" in page
        assert "New API key" not in page
        account = ServiceAccount.objects.get(name="sa-autogen-deploy")
        assert f'href="/org/serviceaccounts/{account.pk}"' in page
        refused = admin_client.post(
            "/org/apikeys/new", {"name": "x", "role": "Viewer", "ttl": "1d"}
        )
        assert b"migrated to service accounts" in refused.content
        assert not ApiKey.objects.filter(name="x").exists()

        assert "Hide the API keys page" in admin_client.get("/org/apikeys/hide").content.decode()
        assert admin_client.post("/org/apikeys/hide").url == "/org/serviceaccounts"
        org.refresh_from_db()
        assert org.api_keys_hidden
        assert admin_client.get("/org/apikeys").url == "/org/serviceaccounts"
        nav = admin_client.get("/org/serviceaccounts").content.decode()
        assert 'href="/org/apikeys"' not in nav

    def test_htmx_steps_are_dialog_fragments(self, admin_client, make_key):
        make_key("deploy")
        preview = admin_client.get("/org/apikeys/migrate", **HTMX).content.decode()
        assert preview.strip().startswith('<dialog id="migrate-dialog"')
        response = admin_client.post("/org/apikeys/migrate", **HTMX)
        assert response["HX-Trigger"] == "apiKeysMigrated"
        assert response.content.decode().strip().startswith('<div id="migrate-dialog-body"')
        fragment = admin_client.get(
            "/org/apikeys", **HTMX, HTTP_HX_TARGET="apikeys-content"
        ).content.decode()
        assert fragment.strip().startswith('<div id="apikeys-content"')
        assert "API keys were migrated" in fragment
        table = admin_client.get("/org/apikeys", **HTMX, HTTP_HX_TARGET="apikeys-table")
        assert table.content.decode().strip().startswith('<section class="card" id="apikeys-table"')

    def test_summary_reports_failures(self, admin_client, make_key, monkeypatch):
        from tokens.models import ServiceAccountToken

        make_key("bad")

        def broken(**kwargs):
            raise RuntimeError("storage unavailable")

        monkeypatch.setattr(ServiceAccountToken.objects, "create", broken)
        html = admin_client.post("/org/apikeys/migrate").content.decode()
        assert "<dt>Failed</dt><dd>1</dd>" in html
        assert "the server log has the details" in html
        assert "storage unavailable" not in html  # internals stay in the log


class TestAccess:
    def urls(self, key) -> list[tuple[str, str]]:
        return [
            ("get", "/org/apikeys"),
            ("post", "/org/apikeys/new"),
            ("get", "/org/apikeys/migrate"),
            ("post", "/org/apikeys/migrate"),
            ("get", "/org/apikeys/hide"),
            ("post", "/org/apikeys/hide"),
            ("get", f"/org/apikeys/{key.pk}/delete"),
            ("post", f"/org/apikeys/{key.pk}/delete"),
            ("get", f"/org/apikeys/{key.pk}/migrate"),
            ("post", f"/org/apikeys/{key.pk}/migrate"),
        ]

    @pytest.mark.parametrize("persona", ["editor", "viewer"])
    def test_non_admins_get_403(self, request, persona, make_key, org):
        key, _ = make_key()
        client = signed_in(request.getfixturevalue(persona))
        for method, url in self.urls(key):
            assert getattr(client, method)(url).status_code == 403, url
        key.refresh_from_db()
        org.refresh_from_db()
        assert (key.migrated_at, org.api_keys_hidden) == (None, False)

    def test_outsider_gets_404_for_our_keys(self, outsider, make_key):
        key, _ = make_key()
        client = signed_in(outsider)
        for method, url in self.urls(key)[6:]:
            assert getattr(client, method)(url).status_code == 404, url
        assert ApiKey.objects.get().migrated_at is None

    def test_csrf_is_enforced(self, admin, make_key):
        key, _ = make_key()
        client = Client(enforce_csrf_checks=True)
        client.force_login(admin)
        for method, url in self.urls(key):
            if method == "post":
                assert client.post(url).status_code == 403, url
        assert ApiKey.objects.get().migrated_at is None


class TestHtmxSteps:
    def test_per_key_migration_and_hide_redirect_htmx_clients(self, admin_client, make_key, org):
        key, _ = make_key("deploy")
        response = admin_client.post(f"/org/apikeys/{key.pk}/migrate", **HTMX)
        assert response["HX-Redirect"] == "/org/apikeys"
        key.refresh_from_db()
        assert key.migrated_at is not None
        response = admin_client.post("/org/apikeys/hide", **HTMX)
        assert response["HX-Redirect"] == "/org/serviceaccounts"
        org.refresh_from_db()
        assert org.api_keys_hidden

    def test_hiding_with_keys_left_is_refused_with_a_message(self, admin_client, make_key, org):
        make_key("still used")
        response = admin_client.post("/org/apikeys/hide", follow=True)
        assert b"Migrate or delete the remaining API keys" in response.content
        org.refresh_from_db()
        assert not org.api_keys_hidden

    def test_a_second_run_says_there_was_nothing_left(self, admin_client, make_key):
        make_key("deploy")
        admin_client.post("/org/apikeys/migrate")
        html = admin_client.post("/org/apikeys/migrate", **HTMX).content.decode()
        assert "There was nothing left to migrate." in html
