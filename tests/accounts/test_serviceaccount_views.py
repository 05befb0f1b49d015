import pytest
from django.test import Client

from accounts.models import ServiceAccount
from tests.conftest import signed_in
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx_to(target: str) -> dict:
    return {**HTMX, "HTTP_HX_TARGET": target}


@pytest.fixture
def account(make_account) -> ServiceAccount:
    return make_account("Grafana Backup")


def urls_for(account_id: int) -> list[tuple[str, str]]:
    base = f"/org/serviceaccounts/{account_id}"
    return [
        ("get", "/org/serviceaccounts"),
        ("get", "/org/serviceaccounts/create"),
        ("post", "/org/serviceaccounts/create"),
        ("get", base),
        ("get", f"{base}/name"),
        ("post", f"{base}/name"),
        ("post", f"{base}/role"),
        ("get", f"{base}/disable"),
        ("post", f"{base}/disable"),
        ("post", f"{base}/enable"),
        ("get", f"{base}/delete"),
        ("post", f"{base}/delete"),
    ]


class TestAccess:
    @pytest.mark.parametrize("persona", ["editor", "viewer", "no_role"])
    def test_non_admins_get_403_on_every_url(self, request, persona, account):
        client = signed_in(request.getfixturevalue(persona))
        for method, url in urls_for(account.pk):
            response = getattr(client, method)(url, {"name": "x", "role": "Viewer"})
            assert response.status_code == 403, (method, url)
        account.refresh_from_db()
        assert (account.name, account.is_disabled) == ("Grafana Backup", False)

    def test_another_orgs_admin_gets_404(self, outsider, account):
        client = signed_in(outsider)
        for method, url in urls_for(account.pk)[3:]:
            assert getattr(client, method)(url, {"name": "x"}).status_code == 404, url
        assert ServiceAccount.objects.filter(pk=account.pk, name="Grafana Backup").exists()

    def test_garbage_ids_are_404(self, admin_client):
        for sa_id in ("abc", "0", "-1", "99999999999999999999999"):
            assert admin_client.get(f"/org/serviceaccounts/{sa_id}").status_code == 404

    def test_server_admin_manages_any_org_they_switch_to(self, server_admin, org, account):
        client = signed_in(server_admin)
        client.post("/profile/switch-org", {"org": org.pk})
        assert client.get(f"/org/serviceaccounts/{account.pk}").status_code == 200

    def test_posts_enforce_csrf(self, admin, account):
        client = Client(enforce_csrf_checks=True)
        client.force_login(admin)
        for method, url in urls_for(account.pk):
            if method == "post":
                assert client.post(url, {"name": "x", "role": "Admin"}).status_code == 403, url
        account.refresh_from_db()
        assert (account.name, account.role, account.is_disabled) == (
            "Grafana Backup",
            "Viewer",
            False,
        )


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
        assert "Are you sure you want to disable 'Grafana Backup'?" in html
        assert "and 1 accompanying token?" in html

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

    def test_query_count_does_not_grow_with_rows(
        self, admin_client, make_account, django_assert_max_num_queries
    ):
        make_account("solo")
        with django_assert_max_num_queries(8) as one:
            admin_client.get("/org/serviceaccounts")
        for number in range(49):
            account = make_account(f"bot {number}")
            ServiceAccountToken.objects.create(
                service_account=account, name="t", digest=f"{number:064d}"
            )
        with django_assert_max_num_queries(len(one.captured_queries)):
            response = admin_client.get("/org/serviceaccounts")
        assert response.content.count(b'<tr id="sa-row-') == 50


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
        page = admin_client.get(url).content.decode()
        assert "Are you sure you want to disable &#x27;Grafana Backup&#x27;?" in page
        assert (
            admin_client.post(url, {"next": "/org/serviceaccounts"}).url == "/org/serviceaccounts"
        )
        account.refresh_from_db()
        assert account.is_disabled
        admin_client.post(f"/org/serviceaccounts/{account.pk}/enable")
        account.refresh_from_db()
        assert not account.is_disabled

    def test_list_actions_rerender_the_results_with_the_same_search(
        self, admin_client, make_account
    ):
        target = make_account("target")
        make_account("unrelated")
        html = admin_client.post(
            f"/org/serviceaccounts/{target.pk}/disable",
            {"query": "targ", "filter": "all", "page": "1"},
            **htmx_to("sa-results"),
        ).content.decode()
        assert html.strip().startswith('<div id="sa-results"')
        assert 'class="is-dimmed"' in html
        assert "unrelated" not in html

    def test_detail_actions_redirect_htmx_clients(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}"
        response = admin_client.post(f"{url}/disable", {"next": url}, **HTMX)
        assert response["HX-Redirect"] == url

    def test_delete_asks_first_then_deletes_with_tokens(self, admin_client, account):
        ServiceAccountToken.objects.create(service_account=account, name="a", digest="1" * 64)
        ServiceAccountToken.objects.create(service_account=account, name="b", digest="2" * 64)
        url = f"/org/serviceaccounts/{account.pk}/delete"
        page = admin_client.get(url).content.decode()
        assert "delete &#x27;Grafana Backup&#x27; and 2 accompanying tokens?" in page
        assert ServiceAccount.objects.filter(pk=account.pk).exists()
        response = admin_client.post(url, {"next": f"/org/serviceaccounts/{account.pk}"})
        assert response.url == "/org/serviceaccounts"
        assert not ServiceAccount.objects.exists()
        assert not ServiceAccountToken.objects.exists()

    def test_offsite_next_is_ignored(self, admin_client, account):
        url = f"/org/serviceaccounts/{account.pk}/disable"
        assert admin_client.post(url, {"next": "//evil.example/"}).url == "/org/serviceaccounts"


class TestHtmxFragments:
    def test_delete_from_the_list_returns_the_results_without_the_row(
        self, admin_client, make_account
    ):
        doomed = make_account("doomed")
        make_account("kept")
        html = admin_client.post(
            f"/org/serviceaccounts/{doomed.pk}/delete",
            {"query": "", "filter": "all", "page": "1"},
            **htmx_to("sa-results"),
        ).content.decode()
        assert html.strip().startswith('<div id="sa-results"')
        assert "doomed" not in html
        assert "kept" in html
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
