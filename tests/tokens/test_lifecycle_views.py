"""Rename, revoke and rotate on the service account's page: with htmx and as plain pages."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import HTMX, bearer, grant, htmx_from, signed_in, token_reveal, triggered
from tokens import format as token_format
from tokens.models import ServiceAccountToken
from tokens.services import token_revoke, token_rotate

pytestmark = pytest.mark.django_db


def page_url(account) -> str:
    return f"/org/serviceaccounts/{account.pk}"


def checked(html: str, name: str) -> str:
    """The value of the checked radio button named ``name``."""
    (value,) = re.findall(rf'name="{name}" value="([^"]*)"[^>]*\bchecked\b', html)
    return value


def token_url(token, action: str) -> str:
    return f"/org/serviceaccounts/{token.service_account_id}/tokens/{token.pk}/{action}"


class TestRename:
    def test_edit_swaps_the_row_for_its_form(self, admin_client, account, make_token):
        token, _ = make_token("ci")
        html = admin_client.get(token_url(token, "name"), **HTMX).content.decode()
        assert html.strip().startswith(f'<tr id="token-{token.pk}"')
        assert 'name="name" value="ci"' in html
        assert "autofocus" in html
        assert f'hx-post="{token_url(token, "name")}"' in html
        cancelled = admin_client.get(token_url(token, "name") + "?cancel=1", **HTMX)
        assert 'name="name"' not in cancelled.content.decode()
        assert 'aria-label="Rename token ci"' in cancelled.content.decode()

    def test_save_answers_the_row_and_the_secret_keeps_working(
        self, admin_client, client, account, make_token
    ):
        token, secret = make_token("ci")
        response = admin_client.post(token_url(token, "name"), {"name": "deploy"}, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.strip().startswith(f'<tr id="token-{token.pk}"')
        assert '<span class="token-name">deploy</span>' in html
        assert 'role="status">Saved<' in html
        assert ServiceAccountToken.objects.get().name == "deploy"
        assert client.get("/api/org", **bearer(secret)).status_code == 200

    @pytest.mark.parametrize(
        ("name", "error"),
        [
            ("", "This field is required."),
            ("DEPLOY", "A token named &#x27;DEPLOY&#x27; already exists"),
            ("x" * 191, "at most 190 characters"),
        ],
    )
    def test_errors_stay_in_the_row(self, admin_client, account, make_token, name, error):
        make_token("deploy")
        token, _ = make_token("ci")
        response = admin_client.post(token_url(token, "name"), {"name": name}, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200  # htmx swaps it
        assert error in html
        assert 'aria-invalid="true"' in html
        assert html.strip().startswith(f'<tr id="token-{token.pk}"')
        assert ServiceAccountToken.objects.get(pk=token.pk).name == "ci"

    def test_without_javascript_it_is_a_form_page(self, admin_client, account, make_token):
        token, _ = make_token("ci")
        html = admin_client.get(token_url(token, "name")).content.decode()
        assert "<html" in html
        assert "<h1>Rename token</h1>" in html
        assert 'value="ci"' in html
        bad = admin_client.post(token_url(token, "name"), {"name": ""}).content.decode()
        assert "<html" in bad
        assert "This field is required." in bad
        response = admin_client.post(token_url(token, "name"), {"name": "deploy"})
        assert response.status_code == 302
        assert response.url == page_url(account)
        assert ServiceAccountToken.objects.get().name == "deploy"

    def test_the_table_offers_edit_for_each_token(self, admin_client, account, make_token):
        token, _ = make_token("ci")
        html = admin_client.get(page_url(account)).content.decode()
        assert f'href="{token_url(token, "name")}"' in html


class TestRevoke:
    def test_asks_first_then_revokes_and_the_token_stays_listed(
        self, admin_client, client, account, make_token
    ):
        token, secret = make_token("ci")
        question = admin_client.get(token_url(token, "revoke")).content.decode()
        assert "Are you sure you want to revoke the token 'ci'?" in question
        assert ">Revoke service account token</button>" in question
        assert not ServiceAccountToken.objects.get().is_revoked
        response = admin_client.post(token_url(token, "revoke"))
        assert response.url == page_url(account)
        token.refresh_from_db()
        assert token.is_revoked
        assert client.get("/api/org", **bearer(secret)).status_code == 401
        html = admin_client.get(page_url(account)).content.decode()
        assert '<span class="badge badge-danger">Revoked</span>' in html
        assert f"{token.revoked_at:%Y-%m-%d %H:%M} UTC" in html
        assert f'href="{token_url(token, "revoke")}"' not in html
        assert f'href="{token_url(token, "rotate")}"' not in html

    def test_with_htmx_the_dialog_posts_and_the_table_refreshes(
        self, admin_client, account, make_token
    ):
        token, _ = make_token("ci")
        here = page_url(account)
        dialog = admin_client.get(token_url(token, "revoke"), **htmx_from(here)).content.decode()
        assert dialog.strip().startswith('<dialog id="confirm-dialog"')
        response = admin_client.post(token_url(token, "revoke"), **htmx_from(here))
        assert triggered(response) == ["tokensChanged"]
        assert ServiceAccountToken.objects.get().is_revoked

    def test_revoking_twice_keeps_the_first_time(
        self, admin_client, account, make_token, org_admin
    ):
        token, _ = make_token("ci")
        first = token_revoke(identity=org_admin, token=token).revoked_at
        admin_client.post(token_url(token, "revoke"))
        assert ServiceAccountToken.objects.get().revoked_at == first


class TestRotate:
    def test_the_dialog_is_add_token_prefilled_with_a_grace_choice(
        self, admin_client, account, make_token
    ):
        token, _ = make_token("ci")
        html = admin_client.get(token_url(token, "rotate"), **HTMX).content.decode()
        assert html.strip().startswith('<dialog id="token-dialog"')
        assert "Rotate service account token" in html
        assert "Keep the old token working for" in html
        for label in ("Immediately", "1 hour", "24 hours", "7 days"):
            assert f"> {label}</label>" in html
        assert checked(html, "grace") == "86400"  # 24 hours by default
        assert checked(html, "expiration") == "never"  # as the old token never expired
        assert ">Rotate token</button>" in html

    def test_the_new_expiry_is_prefilled_with_the_old_lifetime(
        self, admin_client, account, make_token
    ):
        created = datetime.now(UTC) - timedelta(days=80)
        token, _ = make_token("ci", expires_at=created + timedelta(days=90), now=created)
        html = admin_client.get(token_url(token, "rotate"), **HTMX).content.decode()
        assert checked(html, "expiration") == "date"
        expected = datetime.now(UTC).date() + timedelta(days=90)
        assert f'value="{expected.isoformat()}"' in html

    def test_a_lifetime_a_moment_short_of_whole_days_counts_as_those_days(
        self, admin_client, account, make_token
    ):
        token, _ = make_token("ci", expires_at=datetime.now(UTC) + timedelta(days=3))
        html = admin_client.get(token_url(token, "rotate"), **HTMX).content.decode()
        expected = datetime.now(UTC).date() + timedelta(days=3)
        assert f'value="{expected.isoformat()}"' in html

    def test_the_prefill_respects_the_day_limit(self, admin_client, account, make_token, settings):
        created = datetime.now(UTC)
        token, _ = make_token("ci", expires_at=created + timedelta(days=90), now=created)
        settings.KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT = 30
        html = admin_client.get(token_url(token, "rotate"), **HTMX).content.decode()
        expected = datetime.now(UTC).date() + timedelta(days=30)
        assert f'value="{expected.isoformat()}"' in html
        assert "No expiration" not in html

    def test_rotating_reveals_the_new_secret_once(self, admin_client, client, account, make_token):
        token, old_secret = make_token("ci")
        response = admin_client.post(
            token_url(token, "rotate"), {"grace": "3600", "expiration": "never"}, **HTMX
        )
        secret = token_reveal(response)
        assert triggered(response) == ["tokensChanged"]
        html = response.content.decode()
        old = ServiceAccountToken.objects.get(pk=token.pk)
        assert "keeps working until <time datetime=" in html
        assert f"{old.expires_at:%Y-%m-%d %H:%M} UTC" in html
        new = ServiceAccountToken.objects.get(digest=token_format.digest(secret))
        assert new.name == "ci"
        assert client.get("/api/org", **bearer(secret)).status_code == 200
        assert client.get("/api/org", **bearer(old_secret)).status_code == 200
        later = admin_client.get(page_url(account)).content.decode()
        assert secret not in later
        assert "Rotated" in later

    def test_immediately_says_the_old_token_stopped(self, admin_client, account, make_token):
        token, _ = make_token("ci")
        response = admin_client.post(
            token_url(token, "rotate"), {"grace": "0", "expiration": "never"}
        )
        html = response.content.decode()
        assert "<html" in html  # without JavaScript, the reveal is the whole page
        assert "has stopped working" in html
        assert f'href="{page_url(account)}">Close</a>' in html

    def test_form_errors_stay_in_the_dialog(self, admin_client, account, make_token):
        token, _ = make_token("ci")
        html = admin_client.post(
            token_url(token, "rotate"), {"grace": "99", "expiration": "date"}, **HTMX
        ).content.decode()
        assert "Select a valid choice" in html
        assert "Choose the date the token expires on." in html
        assert ServiceAccountToken.objects.count() == 1

    def test_a_token_that_cannot_be_rotated_says_why(
        self, admin_client, account, make_token, org_admin
    ):
        token, _ = make_token("ci")
        token_rotate(identity=org_admin, token=token, grace=timedelta(hours=1), expires_at=None)
        html = admin_client.get(token_url(token, "rotate"), **HTMX).content.decode()
        assert "was already rotated" in html
        assert ">Rotate token</button>" not in html
        response = admin_client.post(
            token_url(token, "rotate"), {"grace": "3600", "expiration": "never"}, **HTMX
        )
        assert "was already rotated" in response.content.decode()
        assert "token-secret" not in response.content.decode()
        assert ServiceAccountToken.objects.count() == 2


class TestPermissions:
    def test_readers_see_the_tokens_but_no_actions(self, editor, account, make_token):
        grant(editor, "serviceaccounts:read")
        make_token("ci")
        html = signed_in(editor).get(page_url(account)).content.decode()
        assert '<span class="token-name">ci</span>' in html
        for action in ("Rename", "Rotate", "Revoke", "Delete"):
            assert f"{action} token ci" not in html

    def test_a_refused_rotation_says_why_in_the_dialog(self, editor, account, make_token):
        grant(editor, "serviceaccounts:write")
        token, _ = make_token("ci")  # of an Admin-role account
        response = signed_in(editor).post(
            token_url(token, "rotate"), {"grace": "3600", "expiration": "never"}, **HTMX
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "role is higher than yours" in html
        assert "token-secret" not in html
        assert ServiceAccountToken.objects.count() == 1


class TestTable:
    def test_the_rotated_row_is_marked_with_its_new_expiry(
        self, admin_client, account, make_token, org_admin
    ):
        token, _ = make_token("ci")
        rotation = token_rotate(
            identity=org_admin, token=token, grace=timedelta(hours=1), expires_at=None
        )
        html = admin_client.get(page_url(account)).content.decode()
        row = html[html.index(f'<tr id="token-{token.pk}"') :]
        row = row[: row.index("</tr>")]
        assert '<span class="badge">Rotated</span>' in row
        assert f"{rotation.old.expires_at:%Y-%m-%d %H:%M} UTC" in row
        assert "Rotate</a>" not in row
        assert "Revoke</a>" in row  # ending the grace early

    def test_last_used_address_and_agent_are_shown(self, admin_client, account, make_token):
        token, _ = make_token("ci")
        ServiceAccountToken.objects.filter(pk=token.pk).update(
            last_used_at=datetime.now(UTC),
            last_used_ip="203.0.113.9",
            last_used_user_agent="Terraform/1.9 (+https://www.terraform.io) " + "x" * 100,
        )
        html = admin_client.get(page_url(account)).content.decode()
        assert "from 203.0.113.9" in html
        assert 'title="Terraform/1.9 (+https://www.terraform.io) ' in html
        assert "Terraform/1.9 (+https://www.terraform.io) xxxxx…<" in html

    def test_no_template_comment_leaks_into_the_page(self, admin_client, account, make_token):
        make_token("ci")
        html = admin_client.get(page_url(account)).content.decode()
        assert "{#" not in html
        assert "#}" not in html
