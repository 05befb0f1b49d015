from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from tests.helpers import HTMX, htmx_from, htmx_to, revealed_secret, token_reveal, triggered
from tokens import format as token_format
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db


def add_url(account) -> str:
    return f"/org/serviceaccounts/{account.pk}/tokens/new"


def secret_in(html: str) -> str:
    return revealed_secret(html, "token-secret")


def tomorrow() -> date:
    return timezone.now().date() + timedelta(days=1)


class TestDialog:
    def test_htmx_get_returns_the_dialog_with_a_suggested_name(self, admin_client, account):
        html = admin_client.get(add_url(account), **HTMX).content.decode()
        assert html.strip().startswith('<dialog id="token-dialog"')
        assert "Add service account token" in html
        assert f'value="{account.login}-token-1"' in html
        assert "No expiration" in html
        assert "Set expiration date" in html
        assert f'min="{tomorrow().isoformat()}"' in html
        assert "Generate token" in html

    def test_suggested_name_skips_taken_names(self, admin_client, account, make_token):
        make_token(f"{account.login}-token-2")
        make_token("other")
        html = admin_client.get(add_url(account), **HTMX).content.decode()
        assert f'value="{account.login}-token-3"' in html

    def test_without_javascript_it_is_a_full_page(self, admin_client, account):
        html = admin_client.get(add_url(account)).content.decode()
        assert "<html" in html
        assert "Add service account token" in html
        # A page (also opened in a new tab, with JS) cancels by a link, not a dialog button.
        assert f'href="/org/serviceaccounts/{account.pk}">Cancel</a>' in html
        assert "data-close-dialog" not in html

    def test_generate_reveals_the_secret_once_and_stores_its_digest(self, admin_client, account):
        response = admin_client.post(
            add_url(account), {"name": "ci", "expiration": "never"}, **HTMX
        )
        secret = token_reveal(response)
        assert triggered(response) == ["tokensChanged"]
        assert "Copy to clipboard and close" in response.content.decode()
        token = ServiceAccountToken.objects.get()
        assert token_format.parse(secret) is not None
        assert token.digest == token_format.digest(secret)
        assert token.expires_at is None
        # Never shown again: not on the account page, not in a fresh dialog.
        assert secret not in admin_client.get(f"/org/serviceaccounts/{account.pk}").content.decode()
        assert secret not in admin_client.get(add_url(account)).content.decode()
        assert not admin_client.session.get("_messages")

    def test_secret_is_not_in_the_database_in_clear(self, admin_client, account):
        from django.db import connection

        response = admin_client.post(add_url(account), {"name": "ci", "expiration": "never"})
        secret = secret_in(response.content.decode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, digest FROM tokens_serviceaccounttoken")
            rows = cursor.fetchall()
        assert all(secret not in str(value) for row in rows for value in row)

    def test_generate_without_javascript_renders_the_reveal_in_the_response(
        self, admin_client, account
    ):
        response = admin_client.post(add_url(account), {"name": "ci", "expiration": "never"})
        assert response.status_code == 200  # no redirect: the secret lives only here
        html = response.content.decode()
        assert "<html" in html
        assert "Service account token created" in html
        assert "no-store" in response["Cache-Control"]

    def test_expiration_date_sets_midnight_utc(self, admin_client, account):
        day = tomorrow() + timedelta(days=3)
        admin_client.post(
            add_url(account), {"name": "ci", "expiration": "date", "expires_on": day.isoformat()}
        )
        token = ServiceAccountToken.objects.get()
        assert token.expires_at == datetime(day.year, day.month, day.day, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"name": "", "expiration": "never"}, "This field is required."),
            ({"name": "ci", "expiration": "date"}, "Choose the date the token expires on."),
            ({"name": "ci", "expiration": "date", "expires_on": "2020-01-01"}, "in the future"),
            ({"name": "ci", "expiration": "date", "expires_on": "9999-12-31"}, "within 100 years"),
            ({"name": "ci", "expiration": "date", "expires_on": "not a date"}, "valid date"),
            ({"name": "ci", "expiration": "sometime"}, "Select a valid choice"),
        ],
    )
    def test_errors_rerender_the_dialog(self, admin_client, account, data, error):
        response = admin_client.post(add_url(account), data, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert error in html
        assert "Generate token" in html
        assert 'id="token-secret"' not in html
        assert not ServiceAccountToken.objects.exists()

    def test_duplicate_name_is_an_error_in_the_dialog(self, admin_client, account, make_token):
        make_token("ci")
        html = admin_client.post(
            add_url(account), {"name": "CI", "expiration": "never"}, **HTMX
        ).content.decode()
        assert "already exists" in html
        assert ServiceAccountToken.objects.count() == 1


class TestDayLimit:
    @pytest.fixture(autouse=True)
    def _limit(self, settings):
        settings.KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT = 10

    def test_no_expiration_is_not_offered_and_the_date_is_capped(self, admin_client, account):
        html = admin_client.get(add_url(account), **HTMX).content.decode()
        assert "No expiration" not in html
        limit = timezone.now().date() + timedelta(days=10)
        assert f'max="{limit.isoformat()}"' in html

    def test_a_date_beyond_the_limit_is_refused(self, admin_client, account):
        late = timezone.now().date() + timedelta(days=11)
        html = admin_client.post(
            add_url(account),
            {"name": "ci", "expiration": "date", "expires_on": late.isoformat()},
            **HTMX,
        ).content.decode()
        assert "exceeds the limit" in html
        assert not ServiceAccountToken.objects.exists()

    def test_posting_no_expiration_anyway_is_refused(self, admin_client, account):
        html = admin_client.post(
            add_url(account), {"name": "ci", "expiration": "never"}, **HTMX
        ).content.decode()
        assert "Select a valid choice" in html
        assert not ServiceAccountToken.objects.exists()


class TestTable:
    def test_columns_and_expiry_wording(self, admin_client, account, make_token):
        now = timezone.now()
        make_token("forever")
        make_token("soon", expires_at=now + timedelta(days=3, hours=1))
        make_token("later", expires_at=datetime(2099, 5, 17, tzinfo=UTC))
        make_token("gone", expires_at=now + timedelta(days=1))
        ServiceAccountToken.objects.filter(name="gone").update(expires_at=now - timedelta(days=1))
        make_token("pulled")
        ServiceAccountToken.objects.filter(name="pulled").update(is_revoked=True)
        ServiceAccountToken.objects.filter(name="forever").update(last_used_at=now)
        html = admin_client.get(f"/org/serviceaccounts/{account.pk}").content.decode()
        for text in ("Never", "Expires in 3 days", "2099-05-17", "Expired", "Revoked"):
            assert text in html
        assert html.count('class="is-dimmed"') == 2
        assert now.strftime("%Y-%m-%d %H:%M") in html

    def test_tokens_fragment_for_the_refresh_event(self, admin_client, account, make_token):
        make_token("fresh")
        response = admin_client.get(f"/org/serviceaccounts/{account.pk}", **htmx_to("tokens"))
        html = response.content.decode()
        assert html.strip().startswith('<section class="card" id="tokens"')
        assert "fresh" in html

    def test_list_page_counts_tokens_and_offers_add_token_when_none(
        self, admin_client, account, make_account, make_token
    ):
        empty = make_account("empty")
        make_token("one")
        html = admin_client.get("/org/serviceaccounts").content.decode()
        assert f'href="/org/serviceaccounts/{empty.pk}/tokens/new"' in html
        assert f'href="/org/serviceaccounts/{account.pk}/tokens/new"' not in html

    def test_delete_token_with_confirmation(self, admin_client, account, make_token):
        token, _ = make_token("doomed")
        url = f"/org/serviceaccounts/{account.pk}/tokens/{token.pk}/delete"
        page = admin_client.get(url).content.decode()
        assert "Are you sure you want to delete the token 'doomed'?" in page
        assert ">Delete service account token</button>" in page
        assert admin_client.post(url).url == f"/org/serviceaccounts/{account.pk}"
        assert not ServiceAccountToken.objects.exists()

    def test_delete_token_with_htmx_triggers_a_refresh(self, admin_client, account, make_token):
        token, _ = make_token("doomed")
        page = f"/org/serviceaccounts/{account.pk}"
        url = f"{page}/tokens/{token.pk}/delete"
        dialog = admin_client.get(url, **htmx_from(page)).content.decode()
        assert dialog.strip().startswith('<dialog id="confirm-dialog"')
        assert f'hx-post="{url}" hx-swap="none"' in dialog
        response = admin_client.post(url, **htmx_from(page))
        assert response.status_code == 200
        assert triggered(response) == ["tokensChanged"]
        assert not ServiceAccountToken.objects.exists()


class TestAccess:
    """Roles, other orgs and CSRF on every page: tests/test_access.py walks the URLconf."""

    def test_token_of_another_account_is_404(self, admin_client, account, make_account, make_token):
        other = make_account("other")
        token, _ = make_token(target=other)
        url = f"/org/serviceaccounts/{account.pk}/tokens/{token.pk}/delete"
        assert admin_client.post(url).status_code == 404


def test_the_secret_never_reaches_the_logs(admin_client, account, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    response = admin_client.post(add_url(account), {"name": "ci", "expiration": "never"})
    secret = secret_in(response.content.decode())
    admin_client.get("/api/org", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert secret not in caplog.text
