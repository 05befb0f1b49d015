"""Configuration → Permissions: the catalogue with descriptions and holders, adding a custom
permission (form errors from the service), and deleting one after a confirmation that says
what it takes away."""

import pytest

from accounts.models import Permission, ServiceAccountPermission, TeamPermission
from accounts.teams.services import (
    permission_create,
    service_account_permissions_set,
    team_create,
    team_permissions_set,
)
from tests.helpers import (
    HTMX,
    grant,
    htmx_from,
    htmx_to,
    identity_of,
    page_text,
    signed_in,
    triggered,
)

pytestmark = pytest.mark.django_db

PAGE = "/org/permissions"


@pytest.fixture
def ingest(org_admin) -> Permission:
    return permission_create(identity=org_admin, name="metrics:ingest", description="Push metrics")


def test_the_catalogue_lists_built_in_and_custom_permissions_with_holders(
    admin_client, ingest, org_admin, make_account
):
    for name in ("Ingest", "Backfill"):
        team = team_create(identity=org_admin, name=name)
        team_permissions_set(identity=org_admin, team=team, permissions=["metrics:ingest"])
    service_account_permissions_set(
        identity=org_admin, account=make_account("pusher"), permissions=["metrics:ingest"]
    )
    html = page_text(admin_client.get(PAGE))
    assert '<code>serviceaccounts:read</code> <span class="badge">Built in</span>' in html
    assert "List and view service accounts and their tokens." in html
    row = html[html.index("<code>metrics:ingest</code>") :]
    row = row[: row.index("</tr>")]
    assert "Custom" in row
    assert "Push metrics" in row
    assert "2 teams, 1 service account" in row
    assert 'aria-label="Delete permission metrics:ingest"' in row
    assert html.count("Delete permission") == 1  # built-in ones cannot be deleted


def test_the_table_refreshes_as_a_fragment(admin_client, ingest):
    html = admin_client.get(PAGE, **htmx_to("permission-table")).content.decode()
    assert html.strip().startswith('<section class="card" id="permission-table"')
    assert 'hx-trigger="permissionsChanged from:body"' in html


def test_add_with_htmx_answers_with_a_fresh_form(admin_client, org):
    response = admin_client.post(
        f"{PAGE}/new", {"name": "proxies:manage", "description": "Run proxies"}, **HTMX
    )
    html = page_text(response)
    assert html.strip().startswith('<section class="card" id="permission-add"')
    assert "Permission 'proxies:manage' added." in html
    assert 'value="proxies:manage"' not in html
    assert triggered(response) == ["permissionsChanged"]
    assert Permission.objects.get(org=org).description == "Run proxies"


def test_add_without_javascript(admin_client, org):
    response = admin_client.post(f"{PAGE}/new", {"name": "proxies:manage"})
    assert response.url == PAGE
    assert "Permission 'proxies:manage' added." in page_text(admin_client.get(PAGE))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "Metrics"}, "Permission name must look like 'area:action'"),
        ({"name": "teams:delete"}, "The area 'teams' is reserved"),
        ({"name": "metrics:ingest"}, "A permission named 'metrics:ingest' already exists."),
        ({"name": "teams:write"}, "A permission named 'teams:write' already exists."),
        ({"name": "a:b", "description": "bad\x07"}, "Description cannot contain control"),
        ({"name": "a:b", "description": "bad\ufffd"}, "Description must be valid UTF-8 text."),
        ({"name": "a:" + "b" * 99}, "at most 100 characters"),
    ],
)
def test_refusals_are_form_errors(admin_client, ingest, data, error):
    htmx = page_text(admin_client.post(f"{PAGE}/new", data, **HTMX))
    assert error in htmx
    assert 'role="alert"' in htmx
    full = admin_client.post(f"{PAGE}/new", data)
    assert full.status_code == 200
    assert error in page_text(full)
    assert Permission.objects.count() == 1


def test_the_description_error_sits_by_its_field(admin_client):
    html = page_text(admin_client.post(f"{PAGE}/new", {"name": "a:b", "description": "x\x07"}))
    description = html[html.index('for="id_description"') :]
    assert "Description cannot contain control characters." in description
    assert 'id="id_description_error"' in html


def test_delete_says_how_many_hold_it_then_takes_it_from_them(
    admin_client, ingest, org_admin, make_account
):
    team = team_create(identity=org_admin, name="Ingest")
    team_permissions_set(identity=org_admin, team=team, permissions=["metrics:ingest"])
    for name in ("a", "b"):
        service_account_permissions_set(
            identity=org_admin, account=make_account(name), permissions=["metrics:ingest"]
        )
    url = f"{PAGE}/metrics:ingest/delete"
    dialog = page_text(admin_client.get(url, **htmx_from(PAGE)))
    assert "Delete permission" in dialog
    assert "delete the permission 'metrics:ingest'? 1 team and 2 service accounts hold it" in (
        dialog
    )
    response = admin_client.post(url, **htmx_from(PAGE))
    assert triggered(response) == ["permissionsChanged"]
    assert "Permission 'metrics:ingest' deleted." in page_text(response)
    assert not Permission.objects.exists()
    assert not TeamPermission.objects.exists()
    assert not ServiceAccountPermission.objects.exists()


def test_delete_without_javascript(admin_client, ingest):
    url = f"{PAGE}/metrics:ingest/delete"
    page = page_text(admin_client.get(url))
    assert "<html" in page
    assert "0 teams and 0 service accounts hold it" in page
    assert admin_client.post(url).url == PAGE
    assert not Permission.objects.exists()


@pytest.mark.parametrize("name", ["teams:write", "metrics:nope", "x", "%00", "metrics:ingest%00"])
def test_built_in_and_unknown_permissions_have_no_delete_page(admin_client, name):
    assert admin_client.get(f"{PAGE}/{name}/delete").status_code == 404
    assert admin_client.post(f"{PAGE}/{name}/delete").status_code == 404


def test_another_orgs_permission_is_404(admin_client, outsider, other_org):
    permission_create(identity=identity_of(outsider, other_org), name="theirs:only")
    assert admin_client.get(f"{PAGE}/theirs:only/delete").status_code == 404
    assert admin_client.post(f"{PAGE}/theirs:only/delete").status_code == 404
    assert Permission.objects.filter(name="theirs:only").exists()


def test_an_editor_with_teams_write_manages_the_catalogue(editor, ingest):
    grant(editor, "teams:write")
    client = signed_in(editor)
    assert "metrics:ingest" in client.get(PAGE).content.decode()
    assert client.post(f"{PAGE}/new", {"name": "logs:read"}).url == PAGE
    assert client.post(f"{PAGE}/metrics:ingest/delete").url == PAGE
    assert list(Permission.objects.values_list("name", flat=True)) == ["logs:read"]
