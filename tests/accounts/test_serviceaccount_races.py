"""The role ceiling on managing a service account is decided on its locked row: an Editor
with serviceaccounts:write racing an Admin who promotes the account to Admin never wins once
the promotion committed. Real row locks across connections, so PostgreSQL only."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_update
from tests.helpers import call, grant, needs_postgresql, while_held
from tokens.models import ServiceAccountToken

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]

# The Editor's change, each read before the promotion commits and decided after it.
ACTIONS = [
    ("DELETE", "", None),
    ("PATCH", "", {"isDisabled": True}),
    ("PATCH", "", {"name": "renamed"}),
    ("PUT", "/permissions", {"permissions": []}),
    ("PATCH", "/tokens/{token}", {"name": "renamed"}),
    ("POST", "/tokens/{token}/revoke", None),
    ("DELETE", "/tokens/{token}", None),
]


@pytest.fixture
def account(make_account, editor) -> ServiceAccount:
    grant(editor, "serviceaccounts:write")
    account = make_account("automation", role=Role.VIEWER)
    ServiceAccountToken.objects.create(service_account=account, name="ci", digest="d" * 64)
    return account


def editor_changes(account: ServiceAccount, method: str, path: str, body: object) -> int:
    token = account.tokens.get()
    url = f"/api/serviceaccounts/{account.pk}{path.format(token=token.pk)}"
    return call(Client(), method, url, body, as_user="eddie").status_code


@pytest.mark.parametrize(("method", "path", "body"), ACTIONS)
def test_an_editor_cannot_change_an_account_promoted_to_admin_meanwhile(
    org_admin, account, method, path, body
):
    def promote() -> None:
        service_account_update(identity=org_admin, account=account, role=Role.ADMIN)

    status = while_held(promote, lambda: editor_changes(account, method, path, body))
    assert status == 403
    account.refresh_from_db()
    assert (account.name, account.role, account.is_disabled) == ("automation", "Admin", False)
    token = account.tokens.get()
    assert (token.name, token.is_revoked) == ("ci", False)


@pytest.mark.parametrize(("method", "path", "body"), ACTIONS)
def test_an_editor_waiting_on_an_admin_who_leaves_the_role_alone_goes_ahead(
    org_admin, account, method, path, body
):
    def rename() -> None:
        service_account_update(identity=org_admin, account=account, name="automation 2")

    assert while_held(rename, lambda: editor_changes(account, method, path, body)) == 200
