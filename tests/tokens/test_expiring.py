"""Expiring soon: the list filter and its badges, the search parameter, the nav count, the
"Never expire" list, and the e-mail digest of ``manage.py notify_expiring_tokens``."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.access import Identity
from accounts.models import ServiceAccount, User
from accounts.roles import Role
from accounts.services import service_account_create
from tests.helpers import call, htmx_to, make_user, signed_in
from tokens.models import ServiceAccountToken
from tokens.services import send_expiry_digests, token_revoke, token_rotate

pytestmark = pytest.mark.django_db

LIST = "/org/serviceaccounts"


@pytest.fixture
def tokens(make_account, make_token, clock, org_admin):
    """One account per case, each with one token."""
    now = clock.now
    cases = {
        "soon": now + timedelta(days=3, hours=1),
        "edge": now + timedelta(days=7),
        "later": now + timedelta(days=8),
        "never": None,
        "revoked": now + timedelta(days=2),
        "rotated": now + timedelta(days=2),
        "expired": now + timedelta(minutes=5),
    }
    made = {}
    for name, expires_at in cases.items():
        made[name], _ = make_token(name, target=make_account(f"{name}-bot"), expires_at=expires_at)
    token_revoke(identity=org_admin, token=made["revoked"])
    token_rotate(
        identity=org_admin, token=made["rotated"], grace=timedelta(days=2), expires_at=None
    )
    ServiceAccountToken.objects.filter(pk=made["expired"].pk).update(
        expires_at=now - timedelta(minutes=5)
    )
    return made


def names(accounts) -> list[str]:
    return [account.name for account in accounts]


class TestDefinition:
    def test_within_the_window_still_working_and_not_rotated(self, tokens, clock):
        soon = ServiceAccountToken.objects.expiring_soon(clock.now)
        assert sorted(soon.values_list("name", flat=True)) == ["edge", "soon"]

    def test_the_model_agrees_with_the_query(self, tokens, clock):
        for token in ServiceAccountToken.objects.all():
            in_query = ServiceAccountToken.objects.expiring_soon(clock.now).filter(pk=token.pk)
            assert token.is_expiring_soon(clock.now) == in_query.exists(), token.name

    def test_the_window_is_a_setting(self, tokens, clock, settings):
        settings.KEYHOUSE_EXPIRING_SOON_DAYS = 10
        soon = ServiceAccountToken.objects.expiring_soon(clock.now)
        assert sorted(soon.values_list("name", flat=True)) == ["edge", "later", "soon"]


class TestList:
    def test_the_filter_lists_accounts_with_a_token_expiring_soon(
        self, admin_client, tokens, make_account
    ):
        make_account("no-tokens")
        html = admin_client.get(f"{LIST}?filter=expiring").content.decode()
        results = html[: html.index('id="never-expire"')]
        shown = [a.name for a in ServiceAccount.objects.all() if f">{a.name}</a>" in results]
        assert sorted(shown) == ["edge-bot", "soon-bot"]
        assert 'value="expiring" checked' in html
        assert "Expiring soon" in html

    def test_rows_carry_an_expires_in_badge(self, admin_client, tokens):
        html = admin_client.get(LIST).content.decode()
        assert '<span class="badge badge-warning">Expires in 3 days</span>' in html
        assert '<span class="badge badge-warning">Expires in 7 days</span>' in html
        assert html.count("Expires in") == 2

    def test_the_badge_names_the_soonest_token(self, admin_client, account, make_token, clock):
        make_token("a", expires_at=clock.now + timedelta(days=5))
        make_token("b", expires_at=clock.now + timedelta(hours=5))
        html = admin_client.get(LIST).content.decode()
        assert "Expires in 5 hours" in html
        assert "Expires in 5 days" not in html

    def test_the_filter_combines_with_the_search(self, admin_client, tokens):
        html = admin_client.get(f"{LIST}?filter=expiring&query=edge").content.decode()
        assert "edge-bot" in html
        assert "soon-bot" not in html

    def test_nothing_expiring_says_so(self, admin_client, make_account, make_token):
        make_token("forever", target=make_account("calm"))
        html = admin_client.get(f"{LIST}?filter=expiring").content.decode()
        assert "No token expires within 7 days." in html

    def test_the_listing_costs_the_same_queries_for_more_accounts(
        self, admin_client, make_account, make_token, clock
    ):
        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                response = admin_client.get(f"{LIST}?filter=expiring")
            assert response.status_code == 200
            return len(captured)

        for number in range(3):
            make_token("t", target=make_account(f"a{number}"), expires_at=clock.now + timedelta(1))
        make_token("forever")
        few = queries()
        for number in range(3, 13):
            account = make_account(f"a{number}")
            make_token("t", target=account, expires_at=clock.now + timedelta(1))
            make_token("forever", target=account)
        assert queries() == few

    def test_the_htmx_refresh_keeps_the_filter(self, admin_client, tokens):
        html = admin_client.get(f"{LIST}?filter=expiring", **htmx_to("sa-results")).content.decode()
        assert html.strip().startswith('<div id="sa-results"')
        assert "soon-bot" in html
        assert "later-bot" not in html


class TestNeverExpire:
    def test_listed_beside_the_expiring_ones(self, admin_client, tokens, make_account, make_token):
        make_token("old-forever", target=make_account("legacy-bot"))
        html = admin_client.get(f"{LIST}?filter=expiring").content.decode()
        section = html[html.index('id="never-expire"') :]
        assert '<h2 id="never-expire-title">Never expire</h2>' in section
        assert "never-bot" in section
        assert "old-forever" in section
        assert "soon-bot" not in section
        assert "revoked-bot" not in section

    def test_revoked_tokens_without_expiry_are_not_listed(
        self, admin_client, make_account, make_token, org_admin
    ):
        token, _ = make_token("gone", target=make_account("bot"))
        token_revoke(identity=org_admin, token=token)
        html = admin_client.get(f"{LIST}?filter=expiring").content.decode()
        assert "Every token of this organization has an expiration date." in html

    def test_paged(self, admin_client, account, make_token):
        for number in range(51):
            make_token(f"forever-{number:02d}")
        first = admin_client.get(f"{LIST}?filter=expiring").content.decode()
        assert "Page 1 of 2 · 51 tokens" in first
        assert "forever-49" in first
        assert "forever-50" not in first
        second = admin_client.get(f"{LIST}?filter=expiring&never_page=2").content.decode()
        assert "forever-50" in second

    def test_not_shown_under_the_other_filters(self, admin_client, tokens):
        assert 'id="never-expire"' not in admin_client.get(LIST).content.decode()


class TestNavCount:
    def test_admins_see_how_many_tokens_expire_soon(self, admin_client, tokens):
        html = admin_client.get(LIST).content.decode()
        assert 'title="2 tokens expiring soon">2<' in html

    def test_no_badge_when_none_does(self, admin_client, account):
        assert "expiring soon" not in admin_client.get(LIST).content.decode()

    def test_one_small_query_and_only_on_whole_pages(self, admin_client, account, tokens):
        def token_counts(**headers) -> list[str]:
            with CaptureQueriesContext(connection) as captured:
                admin_client.get(f"/org/serviceaccounts/{account.pk}", **headers)
            return [
                query["sql"]
                for query in captured
                if "COUNT(" in query["sql"].upper() and "tokens_serviceaccounttoken" in query["sql"]
            ]

        assert len(token_counts()) == 1
        assert token_counts(**htmx_to("tokens")) == []

    def test_members_who_may_not_see_service_accounts_pay_nothing(self, viewer, tokens):
        client = signed_in(viewer)
        with CaptureQueriesContext(connection) as captured:
            html = client.get("/profile").content.decode()
        assert "expiring soon" not in html
        assert not [query for query in captured if "tokens_serviceaccounttoken" in query["sql"]]

    def test_counts_only_the_current_org(self, outsider, tokens):
        html = signed_in(outsider).get(LIST).content.decode()
        assert "expiring soon" not in html


class TestSearchApi:
    def test_expiring_tokens_true_filters(self, client, admin, tokens):
        body = call(client, "GET", "/api/serviceaccounts/search?expiringTokens=true").json()
        assert sorted(item["name"] for item in body["serviceAccounts"]) == ["edge-bot", "soon-bot"]
        assert body["totalCount"] == 2

    def test_other_values_do_not_filter(self, client, admin, tokens):
        body = call(client, "GET", "/api/serviceaccounts/search?expiringTokens=no").json()
        assert body["totalCount"] == ServiceAccount.objects.count()


# --- The e-mail digest ---------------------------------------------------------------------


@pytest.fixture
def admins(org, admin, editor, viewer):
    """Acme's Admins: alice, and a second one; the editor and viewer get nothing."""
    make_user("ada", org, Role.ADMIN)
    make_user("gone", org, Role.ADMIN, is_active=False)
    User.objects.filter(pk=make_user("mute", org, Role.ADMIN).pk).update(email="")
    return ["ada@example.com", "alice@example.com"]


def digest(now):
    return send_expiry_digests(now=now)


class TestDigest:
    def test_one_mail_per_org_to_its_active_admins(self, admins, tokens, clock):
        digest(clock.now)
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert sorted(message.to) == admins
        assert message.subject == "[Keyhouse] 2 service account tokens in Acme expire within 7 days"

    def test_the_digest_names_each_token_with_its_account_and_expiry(
        self, admins, tokens, clock, settings
    ):
        settings.KEYHOUSE_PUBLIC_URL = "https://keyhouse.example.com"
        digest(clock.now)
        (message,) = mail.outbox
        text = message.body
        soon, edge = tokens["soon"], tokens["edge"]
        assert text.index("soon-bot / soon") < text.index("edge-bot / edge")  # soonest first
        assert f"expires {soon.expires_at:%Y-%m-%d %H:%M} UTC (in 3 days), last used never" in text
        assert f"https://keyhouse.example.com/org/serviceaccounts/{soon.service_account_id}" in text
        for name in ("later", "never", "revoked", "rotated", "expired"):
            assert f"{name}-bot" not in text
        ((html, kind),) = message.alternatives
        assert kind == "text/html"
        assert "soon-bot</a>" in html
        assert (
            f'href="https://keyhouse.example.com/org/serviceaccounts/{edge.service_account_id}"'
            in html
        )
        assert "edge" in html

    def test_no_links_without_a_public_url(self, admins, tokens, clock):
        digest(clock.now)
        assert "http" not in mail.outbox[0].body

    def test_names_are_not_html_escaped_in_the_text(self, admins, make_account, make_token, clock):
        make_token("R&D's", target=make_account("Ops <prod>"), expires_at=clock.now + timedelta(1))
        digest(clock.now)
        (message,) = mail.outbox
        assert "Ops <prod> / R&D's" in message.body
        assert "Ops &lt;prod&gt;" in message.alternatives[0][0]

    def test_a_token_is_named_once_even_when_run_hourly(
        self, admins, tokens, make_account, make_token, clock
    ):
        digest(clock.now)
        clock.advance(hours=1)
        digest(clock.now)
        assert len(mail.outbox) == 1
        make_token("new", target=make_account("new-bot"), expires_at=clock.now + timedelta(6))
        clock.advance(hours=1)
        digest(clock.now)
        assert len(mail.outbox) == 2
        assert "new-bot / new" in mail.outbox[1].body
        assert "soon-bot" not in mail.outbox[1].body

    def test_a_token_entering_the_window_later_is_named_then(self, admins, tokens, clock):
        digest(clock.now)
        clock.advance(days=1, hours=1)
        digest(clock.now)
        assert len(mail.outbox) == 2
        assert "later-bot / later" in mail.outbox[1].body

    def test_a_rotation_starts_afresh_with_the_new_token(self, admins, tokens, clock, org_admin):
        digest(clock.now)
        rotation = token_rotate(
            identity=org_admin,
            token=tokens["soon"],
            grace=timedelta(hours=1),
            expires_at=clock.now + timedelta(6),
        )
        digest(clock.now)
        assert len(mail.outbox) == 2
        assert f"soon-bot / {rotation.new.name}" in mail.outbox[1].body
        assert rotation.old.name not in mail.outbox[1].body

    def test_one_mail_per_org(self, admins, tokens, clock, other_org, outsider):
        identity = Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider)
        theirs = service_account_create(identity=identity, name="globex-bot")
        ServiceAccountToken.objects.create(
            service_account=theirs,
            name="g",
            digest="g" * 64,
            expires_at=clock.now + timedelta(days=1),
        )
        digest(clock.now)
        assert len(mail.outbox) == 2
        by_recipient = {tuple(sorted(message.to)): message.body for message in mail.outbox}
        assert "globex-bot" in by_recipient[("oscar@example.com",)]
        assert "globex-bot" not in by_recipient[tuple(admins)]

    def test_a_failed_send_is_retried_next_time(self, admins, tokens, clock, monkeypatch):
        from django.core.mail import EmailMultiAlternatives

        def refuse(self, fail_silently=False):
            raise OSError("connection refused")

        with monkeypatch.context() as patched:
            patched.setattr(EmailMultiAlternatives, "send", refuse)
            (outcome,) = digest(clock.now)
        assert not outcome.sent
        assert "connection refused" in outcome.problem
        assert not ServiceAccountToken.objects.filter(expiry_notified_at__isnull=False).exists()
        digest(clock.now)
        assert len(mail.outbox) == 1

    def test_an_org_without_admin_addresses_is_retried_later(self, admin, tokens, clock):
        User.objects.filter(pk=admin.pk).update(email="")
        (outcome,) = digest(clock.now)
        assert (outcome.sent, outcome.tokens) == (False, [])
        assert mail.outbox == []
        User.objects.filter(pk=admin.pk).update(email="alice@example.com")
        digest(clock.now)
        assert len(mail.outbox) == 1


class TestCommand:
    def test_reports_what_it_sent(self, admins, tokens):
        out = StringIO()
        call_command("notify_expiring_tokens", stdout=out)
        assert "Acme (id" in out.getvalue()
        assert "2 token(s) expiring within 7 day(s), sent to 2 Admin(s)" in out.getvalue()
        assert len(mail.outbox) == 1
        out = StringIO()
        call_command("notify_expiring_tokens", stdout=out)
        assert "No token needs a warning." in out.getvalue()
        assert len(mail.outbox) == 1

    def test_a_failed_send_fails_the_command(self, admins, tokens, monkeypatch):
        from django.core.mail import EmailMultiAlternatives

        def refuse(self, fail_silently=False):
            raise OSError("connection refused")

        monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
        err = StringIO()
        with pytest.raises(CommandError, match="1 digest"):
            call_command("notify_expiring_tokens", stderr=err)
        assert "connection refused" in err.getvalue()

    def test_uses_the_real_clock(self, admins, make_account, make_token):
        make_token("t", target=make_account("bot"), expires_at=timezone.now() + timedelta(1))
        call_command("notify_expiring_tokens", stdout=StringIO())
        assert len(mail.outbox) == 1
