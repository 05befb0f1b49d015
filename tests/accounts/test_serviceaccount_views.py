from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import serviceaccount_views
from accounts.access import get_service_account
from accounts.models import ServiceAccount
from accounts.roles import Role
from tests.helpers import HTMX, grant, htmx_from, htmx_to, signed_in, triggered
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db

LIST = "/org/serviceaccounts"


@pytest.fixture
def account(make_account) -> ServiceAccount:
    return make_account("Grafana Backup")


class TestAccess:
    """Roles, other orgs and CSRF on every page: tests/test_access.py walks the URLconf."""

    def test_garbage_ids_are_404(self, admin_client):
        for sa_id in ("abc", "0", "-1", "99999999999999999999999"):
            assert admin_client.get(f"/org/serviceaccounts/{sa_id}").status_code == 404

    def test_server_admin_manages_any_org_they_switch_to(self, server_admin, org, account):
        client = signed_in(server_admin)
        client.post("/profile/switch-org", {"org": org.pk})
        assert client.get(f"/org/serviceaccounts/{account.pk}").status_code == 200


class TestList:
    def test_empty_state(self, admin_client):
        html = admin_client.get("/org/serviceaccounts").content.decode()
        assert "You haven't created any service accounts yet" in html
        assert "Add service account" in html

    def test_lists_accounts_with_columns(self, admin_client, make_account, account):
        make_account("Disabled One", is_disabled=True)
        ServiceAccountToken.objects.create(service_account=account, name="t", digest="d" * 64)
        html = admin_client.get("/org/serviceaccounts").content.decode()
        assert "Search service account by name" in html
        assert account.login in html
        assert ">1<" in html.replace(" ", "")  # token count
        assert "No tokens" in html
        assert 'class="is-dimmed"' in html
        # Each row's actions fetch their confirmation dialog from the action's own URL.
        assert (
            f'hx-get="/org/serviceaccounts/{account.pk}/disable?next=/org/serviceaccounts"' in html
        )
        assert (
            f'hx-get="/org/serviceaccounts/{account.pk}/delete?next=/org/serviceaccounts"' in html
        )
        assert "hx-confirm" not in html

    def test_names_are_escaped(self, admin_client, make_account):
        make_account("<script>alert(1)</script>")
        html = admin_client.get("/org/serviceaccounts").content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;" in html

    def test_search_fragment_for_htmx(self, admin_client, make_account):
        make_account("alpha")
        make_account("beta")
        response = admin_client.get(
            "/org/serviceaccounts", {"query": "ALP"}, **htmx_to("sa-results")
        )
        html = response.content.decode()
        assert "<html" not in html
        assert html.strip().startswith('<div id="sa-results"')
        assert "alpha" in html
        assert "beta" not in html

    def test_history_restore_gets_the_full_page(self, admin_client):
        response = admin_client.get(
            "/org/serviceaccounts",
            **htmx_to("sa-results"),
            HTTP_HX_HISTORY_RESTORE_REQUEST="true",
        )
        assert b"<html" in response.content

    def test_filter_disabled_and_expired(self, admin_client, make_account):
        from datetime import timedelta

        from django.utils import timezone

        make_account("on")
        make_account("off", is_disabled=True)
        stale = make_account("stale")
        ServiceAccountToken.objects.create(
            service_account=stale,
            name="t",
            digest="e" * 64,
            expires_at=timezone.now() - timedelta(hours=1),
        )
        disabled = admin_client.get("/org/serviceaccounts", {"filter": "disabled"}).content
        assert b">off<" in disabled
        assert b">on<" not in disabled
        expired = admin_client.get("/org/serviceaccounts", {"filter": "expired"}).content
        assert b">stale<" in expired
        assert b">on<" not in expired
        unknown = admin_client.get("/org/serviceaccounts", {"filter": "bogus"}).content
        assert b">on<" in unknown

    def test_paging_keeps_the_search(self, admin_client, make_account):
        for number in range(55):
            make_account(f"bot {number:02d}")
        make_account("other")
        first = admin_client.get("/org/serviceaccounts", {"query": "bot"}).content.decode()
        assert "Page 1 of 2 · 55 service accounts" in first
        assert "?query=bot&amp;page=2" in first
        second = admin_client.get("/org/serviceaccounts", {"query": "bot", "page": 2}).content
        assert b"bot 54" in second
        assert b"other" not in second
        beyond = admin_client.get("/org/serviceaccounts", {"query": "bot", "page": 99}).content
        assert b"Page 2 of 2" in beyond

    # Session, user, org, membership, count, page of accounts, their teams, the org switcher,
    # the nav's count of expiring tokens; "Expiring soon" adds the count and the page of the
    # tokens that never expire.
    @pytest.mark.parametrize(("shown", "queries"), [("all", 9), ("expired", 9), ("expiring", 11)])
    def test_query_count_does_not_grow_with_rows_or_tokens(
        self, admin_client, make_account, django_assert_num_queries, shown, queries
    ):
        now = timezone.now()

        def add_account(name: str, tokens: int) -> None:
            account = make_account(name)
            lifetimes = [timedelta(days=-1), timedelta(days=2), None]
            lifetimes += [timedelta(days=90)] * (tokens - len(lifetimes))
            for number, lifetime in enumerate(lifetimes):
                ServiceAccountToken.objects.create(
                    service_account=account,
                    name=f"t{number}",
                    digest=f"{ServiceAccountToken.objects.count():064d}",
                    expires_at=lifetime and now + lifetime,
                )

        add_account("solo", 3)
        with django_assert_num_queries(queries):
            response = admin_client.get(LIST, {"filter": shown})
        assert response.content.count(b'<tr id="sa-row-') == 1
        for number in range(49):
            add_account(f"bot {number}", 3 + number % 7)
        with django_assert_num_queries(queries):
            response = admin_client.get(LIST, {"filter": shown})
        assert response.content.count(b'<tr id="sa-row-') == 50
        assert response.content.count(b">1 expired</span>") == 50


class TestManageActionsFollowTheRoleCeiling:
    """An Editor with serviceaccounts:write (through a team) is offered the manage actions of
    the accounts they may change (accounts.access.can_manage_account), not of an Admin's."""

    # What only someone who may change the account gets to see, by the account's id.
    LIST_ACTIONS = ('name="role"', "/disable?next=", "/delete?next=", "/tokens/new")
    PAGE_ACTIONS = (
        ">Delete service account<",
        ">Disable service account<",
        '/name" hx-target="#sa-name"',
        'name="role"',
        ">Add service account token<",
        'aria-label="Rename token',
        'aria-label="Rotate token',
        'aria-label="Revoke token',
        'aria-label="Delete token',
        ">Save permissions<",
    )

    @pytest.fixture
    def editor_client(self, editor):
        grant(editor, "serviceaccounts:write")
        return signed_in(editor)

    def test_list_offers_actions_only_on_accounts_at_or_below_their_role(
        self, editor_client, make_account
    ):
        accounts = {role: make_account(f"{role.value} bot", role=role) for role in Role}
        html = editor_client.get(LIST).content.decode()
        rows = {
            role: html.split(f'<tr id="sa-row-{account.pk}"', 1)[1].split("</tr>", 1)[0]
            for role, account in accounts.items()
        }
        assert "Admin" in rows[Role.ADMIN]  # its role, as text
        for action in self.LIST_ACTIONS:
            assert action not in rows[Role.ADMIN], action
            assert action in rows[Role.EDITOR], action
            assert action in rows[Role.VIEWER], action

    @pytest.mark.parametrize(("role", "offered"), [(Role.ADMIN, False), (Role.EDITOR, True)])
    def test_account_page_offers_actions_only_below_their_role(
        self, editor_client, make_account, role, offered
    ):
        account = make_account("bot", role=role)
        ServiceAccountToken.objects.create(service_account=account, name="t", digest="d" * 64)
        html = editor_client.get(f"{LIST}/{account.pk}").content.decode()
        for action in self.PAGE_ACTIONS:
            assert (action in html) == offered, action
        # Asking for the rename form by its URL gives the name, not the form.
        html = editor_client.get(f"{LIST}/{account.pk}", {"edit": "name"}).content.decode()
        assert (f'hx-post="{LIST}/{account.pk}/name"' in html) == offered

    def test_list_query_count_does_not_grow_with_rows(self, editor_client, make_account):
        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                assert editor_client.get(LIST).status_code == 200
            return len(captured)

        make_account("Admin bot", role=Role.ADMIN)
        one = queries()
        for number in range(20):
            make_account(f"bot {number}", role=[Role.ADMIN, Role.EDITOR, Role.VIEWER][number % 3])
        assert queries() == one


class TestCreate:
    def test_form_offers_roles_with_viewer_default(self, admin_client):
        html = admin_client.get("/org/serviceaccounts/create").content.decode()
        assert "Display name" in html
        assert '<option value="Viewer" selected>' in html
        assert '<option value="Admin">' in html

    def test_create_redirects_to_the_new_account(self, admin_client, org):
        response = admin_client.post(
            "/org/serviceaccounts/create", {"name": "grafana", "role": "Editor"}
        )
        account = ServiceAccount.objects.get()
        assert response.url == f"/org/serviceaccounts/{account.pk}"
        assert (account.role, account.org) == ("Editor", org)

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"name": "", "role": "Viewer"}, "This field is required."),
            ({"name": "Grafana Backup", "role": "Viewer"}, "already exists"),
            ({"name": "x", "role": "Owner"}, "Select a valid choice."),
        ],
    )
    def test_errors_are_shown_next_to_the_field(self, admin_client, account, data, error):
        response = admin_client.post("/org/serviceaccounts/create", data)
        assert response.status_code == 200
        assert error in response.content.decode().replace("&#x27;", "'")
        assert ServiceAccount.objects.count() == 1


class TestDetail:
    def test_page_shows_information(self, admin_client, account):
        html = admin_client.get(f"/org/serviceaccounts/{account.pk}").content.decode()
        for text in (
            "Manage settings for an individual service account.",
            "Numerical identifier",
            account.login,
            "Creation date",
            "Delete service account",
            "Disable service account",
            "No tokens yet.",
            "Add service account token",
        ):
            assert text in html

    def test_inline_rename_with_htmx(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/name"
        form = admin_client.get(url, **htmx_to("sa-name")).content.decode()
        assert 'name="name"' in form
        assert "<html" not in form
        cancel = admin_client.get(url, {"cancel": 1}, **HTMX).content.decode()
        assert 'name="name"' not in cancel
        saved = admin_client.post(url, {"name": "Backups"}, **HTMX).content.decode()
        assert "Backups" in saved
        assert 'hx-swap-oob="true"' in saved
        account.refresh_from_db()
        assert account.name == "Backups"

    def test_rename_errors_rerender_the_form(self, admin_client, account, make_account):
        make_account("taken")
        url = f"/org/serviceaccounts/{account.pk}/name"
        html = admin_client.post(url, {"name": "TAKEN"}, **HTMX).content.decode()
        assert "already exists" in html
        assert 'name="name"' in html
        account.refresh_from_db()
        assert account.name == "Grafana Backup"

    def test_rename_without_javascript(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}"
        assert admin_client.get(f"{url}/name").url == f"{url}?edit=name"
        page = admin_client.get(url, {"edit": "name"}).content.decode()
        assert 'name="name"' in page
        assert admin_client.post(f"{url}/name", {"name": "New"}).url == url
        error_page = admin_client.post(f"{url}/name", {"name": ""})
        assert error_page.status_code == 200
        assert b"This field is required." in error_page.content

    def test_role_change_returns_the_picker(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/role"
        html = admin_client.post(url, {"role": "Editor"}, **HTMX).content.decode()
        assert "Saved" in html
        assert '<option value="Editor" selected>' in html
        account.refresh_from_db()
        assert account.role == "Editor"

    def test_role_change_rejects_unknown_roles(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/role"
        html = admin_client.post(url, {"role": "Owner"}, **HTMX).content.decode()
        assert "Choose one of the offered roles." in html
        account.refresh_from_db()
        assert account.role == "Viewer"

    def test_role_change_without_javascript_redirects_back(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/role"
        response = admin_client.post(url, {"role": "Admin", "next": "/org/serviceaccounts"})
        assert response.url == "/org/serviceaccounts"


class TestActions:
    def test_disable_confirmation_page_then_post(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/disable"
        page = admin_client.get(url, {"next": LIST}).content.decode()
        assert "<html" in page
        assert "Are you sure you want to disable 'Grafana Backup'?" in page
        assert f'<a class="btn btn-secondary" href="{LIST}">Cancel</a>' in page
        assert admin_client.post(url, {"next": LIST}).url == LIST
        account.refresh_from_db()
        assert account.is_disabled
        admin_client.post(f"/org/serviceaccounts/{account.pk}/enable")
        account.refresh_from_db()
        assert not account.is_disabled

    def test_confirmation_dialog_for_htmx_posts_in_place(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/disable"
        dialog = admin_client.get(url, {"next": f"{LIST}?query=graf"}, **htmx_from(LIST))
        html = dialog.content.decode()
        assert html.strip().startswith('<dialog id="confirm-dialog" data-modal')
        assert "Are you sure you want to disable 'Grafana Backup'?" in html
        assert f'hx-post="{url}" hx-swap="none"' in html
        assert "data-close-dialog>Cancel</button>" in html

    def test_names_in_confirmations_are_escaped(self, admin_client, make_account):
        account = make_account("<b>bold</b>")
        html = admin_client.get(f"/org/serviceaccounts/{account.pk}/delete").content.decode()
        assert "<b>bold</b>" not in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html

    def test_list_actions_trigger_a_refresh_that_keeps_the_search(self, admin_client, make_account):
        target = make_account("target")
        make_account("unrelated")
        response = admin_client.post(
            f"/org/serviceaccounts/{target.pk}/disable", {"next": LIST}, **htmx_from(LIST)
        )
        assert triggered(response) == ["serviceAccountsChanged"]
        assert response["HX-Trigger-After-Settle"] == '{"closeDialog": {}}'
        # What #sa-results then fetches, with the list's search, filter and page.
        html = admin_client.get(
            LIST, {"query": "targ", "filter": "all", "page": "1"}, **htmx_to("sa-results")
        ).content.decode()
        assert html.strip().startswith('<div id="sa-results"')
        assert 'class="is-dimmed"' in html
        assert "unrelated" not in html

    def test_detail_actions_refresh_the_header(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}"
        response = admin_client.post(f"{url}/disable", {"next": url}, **htmx_from(url))
        assert triggered(response) == ["serviceAccountsChanged"]
        header = admin_client.get(url, **htmx_to("sa-header")).content.decode()
        assert header.strip().startswith('<header id="sa-header"')
        assert "Enable service account" in header
        assert 'hx-trigger="serviceAccountsChanged from:body"' in header

    def test_deleting_from_its_own_page_posts_plainly_and_lands_on_the_list(
        self, admin_client, account
    ):
        url = f"/org/serviceaccounts/{account.pk}"
        dialog = admin_client.get(f"{url}/delete", {"next": url}, **htmx_from(url))
        html = dialog.content.decode()
        assert f'<input type="hidden" name="next" value="{LIST}">' in html
        assert "hx-post" not in html  # the page behind it is going away: a plain form post
        response = admin_client.post(f"{url}/delete", {"next": LIST})
        assert response.url == LIST
        assert not ServiceAccount.objects.exists()
        assert (
            b"Service account &#x27;Grafana Backup&#x27; deleted." in admin_client.get(LIST).content
        )

    def test_delete_asks_first_then_deletes_with_tokens(self, admin_client, account):
        ServiceAccountToken.objects.create(service_account=account, name="a", digest="1" * 64)
        ServiceAccountToken.objects.create(service_account=account, name="b", digest="2" * 64)
        url = f"/org/serviceaccounts/{account.pk}/delete"
        page = admin_client.get(url, {"next": f"/org/serviceaccounts/{account.pk}"})
        html = page.content.decode()
        assert "delete 'Grafana Backup' and 2 accompanying tokens?" in html
        # Cancel goes back where the user came from; success cannot (the page is gone).
        assert f'href="/org/serviceaccounts/{account.pk}">Cancel</a>' in html
        assert ServiceAccount.objects.filter(pk=account.pk).exists()
        response = admin_client.post(url, {"next": f"/org/serviceaccounts/{account.pk}"})
        assert response.url == LIST
        assert not ServiceAccount.objects.exists()
        assert not ServiceAccountToken.objects.exists()

    def test_an_account_deleted_meanwhile_is_the_404_page(self, admin_client, account, monkeypatch):
        def found_then_deleted(identity, pk):
            # A concurrent request deletes the account right after this view found it.
            stale = get_service_account(identity, pk)
            ServiceAccount.objects.filter(pk=stale.pk).delete()
            return stale

        monkeypatch.setattr(serviceaccount_views, "get_service_account", found_then_deleted)
        response = admin_client.post(f"/org/serviceaccounts/{account.pk}/disable")
        assert response.status_code == 404  # the service's NotFound, as the 404 page
        assert b"Page not found" in response.content
        assert not ServiceAccount.objects.exists()

    def test_offsite_next_is_ignored(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/disable"
        assert admin_client.post(url, {"next": "//evil.example/"}).url == LIST


class TestHtmxFragments:
    def test_delete_from_the_list_reports_in_place_and_refreshes_the_results(
        self, admin_client, make_account
    ):
        doomed = make_account("doomed")
        make_account("kept")
        response = admin_client.post(
            f"/org/serviceaccounts/{doomed.pk}/delete", {"next": LIST}, **htmx_from(LIST)
        )
        html = response.content.decode()
        assert html.strip().startswith('<div id="messages"')
        assert 'hx-swap-oob="innerHTML"' in html
        assert "Service account &#x27;doomed&#x27; deleted." in html
        assert triggered(response) == ["serviceAccountsChanged"]
        results = admin_client.get(LIST, **htmx_to("sa-results")).content.decode()
        assert "doomed" not in results
        assert "kept" in results
        assert not ServiceAccount.objects.filter(pk=doomed.pk).exists()

    def test_filter_and_second_page_as_fragments(self, admin_client, make_account):
        for number in range(51):
            make_account(f"bot {number:02d}", is_disabled=number == 0)
        disabled = admin_client.get(
            "/org/serviceaccounts", {"filter": "disabled"}, **htmx_to("sa-results")
        ).content.decode()
        assert disabled.count('<tr id="sa-row-') == 1
        second = admin_client.get(
            "/org/serviceaccounts", {"page": "2"}, **htmx_to("sa-results")
        ).content.decode()
        assert "<html" not in second
        assert second.count('<tr id="sa-row-') == 1
        assert "Page 2 of 2" in second
