"""Breadcrumbs ("Teams /") end in a separator only where the page's heading follows at once
and completes them; the pages that stand in for a dialog without JavaScript put their heading
in a card, so their breadcrumbs end with the last link."""

import re

import pytest

from tests.helpers import page_text, signed_in
from tokens.services import token_create

pytestmark = pytest.mark.django_db

# A breadcrumb ending in "/" and the tag that follows it.
TRAILING_SEPARATOR = re.compile(r'<p class="muted">(?:(?!</p>).)*/</p>\s*<(\w+)', re.S)


def test_a_trailing_separator_leads_to_the_heading(
    admin, server_admin, org, org_admin, make_account, make_key
):
    account = make_account("bot")
    token, _ = token_create(identity=org_admin, account=account, name="t", expires_at=None)
    make_key("old")
    admin_pages = [
        "/org/teams/new",
        f"/org/serviceaccounts/{account.pk}",
        f"/org/serviceaccounts/{account.pk}/tokens/new",
        f"/org/serviceaccounts/{account.pk}/tokens/{token.pk}/name",
        "/org/apikeys/migrate",
    ]
    server_admin_pages = [
        "/admin/orgs",
        "/admin/orgs/new",
        f"/admin/orgs/{org.pk}",
        "/admin/users",
        "/admin/users/new",
        f"/admin/users/{admin.pk}",
        "/admin/grants",
    ]
    for user, pages in ((admin, admin_pages), (server_admin, server_admin_pages)):
        client = signed_in(user)
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, path
            for followed_by in TRAILING_SEPARATOR.findall(page_text(response)):
                assert followed_by == "h1", path
