"""Text that cannot be encoded as UTF-8 (JSON's lone surrogates such as ``"\\ud800"``) is a 400
with a message on every JSON endpoint and a form error in the UI, never a 500."""

import json

import pytest

from accounts.models import Organization, ServiceAccount, User
from apikeys.models import ApiKey
from tests.helpers import call
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db

SURROGATE = "\ud800"


def endpoints(org_id: int, sa_id: int) -> list[tuple[str, str, dict]]:
    """Every JSON endpoint that reads text, with a valid body to spoil one field of."""
    return [
        ("POST", "/api/serviceaccounts", {"name": "robot", "role": "Viewer"}),
        ("PATCH", f"/api/serviceaccounts/{sa_id}", {"name": "robot 2", "role": "Viewer"}),
        ("POST", f"/api/serviceaccounts/{sa_id}/tokens", {"name": "token"}),
        ("POST", "/api/auth/keys", {"name": "key", "role": "Viewer", "secondsToLive": 60}),
        ("POST", "/api/orgs", {"name": "Initech"}),
        (
            "POST",
            "/api/admin/users",
            {"login": "bob", "email": "bob@example.com", "name": "Bob", "password": "pa55-W0rd!x"},
        ),
        ("POST", f"/api/orgs/{org_id}/users", {"loginOrEmail": "vera", "role": "Viewer"}),
    ]


SPOILED = [
    pytest.param(index, name, id=f"{method} {url} {name}")
    for index, (method, url, body) in enumerate(endpoints(1, 1))
    for name, value in body.items()
    if isinstance(value, str)
]


@pytest.mark.parametrize(("index", "field_name"), SPOILED)
def test_lone_surrogates_are_a_400_on_every_json_endpoint(
    client, server_admin, org, viewer, make_account, index, field_name
):
    server_admin.current_org = org
    server_admin.save()
    account = make_account("existing")
    method, url, body = endpoints(org.pk, account.pk)[index]
    before = _counts()
    response = call(client, method, url, {**body, field_name: SURROGATE}, as_user="root")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert field_name in json.loads(response.content)["message"]
    assert _counts() == before


def _counts() -> tuple[int, ...]:
    models = (Organization, User, ServiceAccount, ServiceAccountToken, ApiKey)
    return tuple(model.objects.count() for model in models)


def test_a_surrogate_inside_longer_text_is_refused_too(client, admin):
    response = call(client, "POST", "/api/serviceaccounts", '{"name": "robot \\udfff 1"}')
    assert response.status_code == 400
    assert not ServiceAccount.objects.exists()


# Browsers send forms as bytes; Django decodes invalid UTF-8 in them to U+FFFD.
INVALID_UTF8 = [b"%ED%A0%80", b"%FF", b"ok%C3"]


@pytest.mark.parametrize("raw", INVALID_UTF8)
def test_ui_forms_show_an_error_for_text_that_is_not_utf8(admin_client, make_account, raw):
    account = make_account("robot")
    posts = [
        ("/org/serviceaccounts/create", b"role=Viewer&name="),
        (f"/org/serviceaccounts/{account.pk}/name", b"name="),
        (f"/org/serviceaccounts/{account.pk}/tokens/new", b"expiration=never&name="),
        ("/org/apikeys/new", b"role=Viewer&ttl=1d&name="),
    ]
    for url, body in posts:
        response = admin_client.generic(
            "POST", url, body + raw, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 200, url
        assert b"must be valid UTF-8 text" in response.content, url
    account.refresh_from_db()
    assert account.name == "robot"
    assert ServiceAccount.objects.count() == 1
    assert not ServiceAccountToken.objects.exists()
    assert not ApiKey.objects.exists()
