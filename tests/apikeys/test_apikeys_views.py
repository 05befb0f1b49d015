from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ServiceAccount
from apikeys import format as key_format
from apikeys import views
from apikeys.models import ApiKey
from tests.helpers import HTMX, bearer, htmx_from, htmx_to, revealed_secret, triggered

pytestmark = pytest.mark.django_db

PAGE = "/org/apikeys"


def secret_in(html: str) -> str:
    return revealed_secret(html, "apikey-secret")


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
        assert triggered(response) == ["apiKeysChanged"]
        assert "no-store" in response["Cache-Control"]
        html = response.content.decode()
        assert "You will only be able to view this key here once!" in html
        secret = secret_in(html)
        # Shown once, in its read-only field; the curl example has a placeholder instead.
        assert html.count(secret) == 1
        assert "Authorization: Bearer &lt;key&gt;" in html
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

    def test_htmx_delete_reports_in_place_and_refreshes_the_table(self, admin_client, make_key):
        key, _ = make_key("doomed")
        url = f"/org/apikeys/{key.pk}/delete"
        dialog = admin_client.get(url, **htmx_from(PAGE)).content.decode()
        assert "Are you sure you want to delete the API key 'doomed'?" in dialog
        assert f'hx-post="{url}" hx-swap="none"' in dialog
        response = admin_client.post(url, **htmx_from(PAGE))
        assert triggered(response) == ["apiKeysChanged"]
        assert "API key &#x27;doomed&#x27; deleted." in response.content.decode()
        assert not ApiKey.objects.exists()

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

    def test_the_preview_says_which_keys_have_expired_and_migrates_them_too(
        self, admin_client, make_key
    ):
        for name in ("deploy", "backup", "old"):
            make_key(name)
        ApiKey.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(days=1))
        listed = admin_client.get("/org/apikeys").content.decode()
        assert ">old<" not in listed  # the list hides expired keys by default
        preview = admin_client.get("/org/apikeys/migrate").content.decode()
        assert "3 API keys will become service accounts (1 of them has expired)." in preview
        assert "Expired keys are migrated too" in preview
        assert "<td>old ⚠" in preview.replace('<span class="badge badge-warning">', "")
        summary = admin_client.post("/org/apikeys/migrate").content.decode()
        assert "<dt>Migrated</dt><dd>3</dd>" in summary

    def test_the_preview_of_many_keys_lists_the_first_and_counts_the_rest(
        self, admin_client, make_key, monkeypatch
    ):
        monkeypatch.setattr(views, "PREVIEW_ROWS", 2)
        for name in ("a", "b", "c", "d", "e"):
            make_key(name)
        ApiKey.objects.filter(name="e").update(expires_at=timezone.now() - timedelta(days=1))
        preview = admin_client.get("/org/apikeys/migrate").content.decode()
        assert "5 API keys will become service accounts (1 of them has expired)." in preview
        assert preview.count("<td>sa-autogen-") == 2
        assert "… and 3 more API keys, named the same way." in preview

    def test_htmx_steps_are_dialog_fragments(self, admin_client, make_key):
        make_key("deploy")
        preview = admin_client.get("/org/apikeys/migrate", **HTMX).content.decode()
        assert preview.strip().startswith('<dialog id="migrate-dialog"')
        response = admin_client.post("/org/apikeys/migrate", **HTMX)
        assert triggered(response) == ["apiKeysMigrated"]
        assert response.content.decode().strip().startswith('<div id="migrate-dialog-body"')
        fragment = admin_client.get("/org/apikeys", **htmx_to("apikeys-content")).content.decode()
        assert fragment.strip().startswith('<div id="apikeys-content"')
        assert "API keys were migrated" in fragment
        table = admin_client.get("/org/apikeys", **htmx_to("apikeys-table"))
        assert table.content.decode().strip().startswith('<section class="card" id="apikeys-table"')

    def test_summary_reports_failures(self, admin_client, make_key, fail_token_inserts):
        make_key("bad")
        fail_token_inserts("bad", "storage unavailable")
        html = admin_client.post("/org/apikeys/migrate").content.decode()
        assert "<dt>Failed</dt><dd>1</dd>" in html
        assert "the server log has the details" in html
        assert "storage unavailable" not in html  # internals stay in the log


class TestHtmxSteps:
    def test_per_key_migration_reports_in_place(self, admin_client, make_key):
        key, _ = make_key("deploy")
        response = admin_client.post(f"/org/apikeys/{key.pk}/migrate", **htmx_from(PAGE))
        assert triggered(response) == ["apiKeysChanged"]
        assert "is now service account &#x27;sa-autogen-deploy&#x27;" in response.content.decode()
        key.refresh_from_db()
        assert key.migrated_at is not None

    def test_hiding_leaves_the_page_so_its_dialog_posts_plainly(self, admin_client, org):
        dialog = admin_client.get("/org/apikeys/hide", **htmx_from(PAGE)).content.decode()
        assert dialog.strip().startswith('<dialog id="confirm-dialog"')
        assert "Hide the API keys page for everyone in this organization?" in dialog
        assert "hx-post" not in dialog
        assert admin_client.post("/org/apikeys/hide").url == "/org/serviceaccounts"
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
