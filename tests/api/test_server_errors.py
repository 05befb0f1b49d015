"""Failures on the server side: an unexpected exception under /api/ is a JSON 500 whose details
go to the log only; a database that is busy (locked, a serialization conflict, a lock wait
that timed out) is a 503 with Retry-After, JSON in the API and a page in the UI."""

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from accounts.models import ServiceAccount
from tests.helpers import call, signed_in

SECRET_DETAIL = "internal detail that must stay in the log"


def crash(*args, **kwargs):
    raise RuntimeError(SECRET_DETAIL)


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    "target",
    [
        "accounts.api.paged",  # inside the view
        "accounts.api_base.authenticate_request",  # inside the API decorator
        "django.middleware.common.CommonMiddleware.process_request",  # before any view
    ],
)
@pytest.mark.django_db
def test_an_unexpected_exception_under_api_is_a_json_500(
    client, admin, monkeypatch, caplog, target
):
    monkeypatch.setattr(target, crash)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = call(client, "GET", "/api/serviceaccounts/search")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content) == {"message": "Internal server error"}
    assert SECRET_DETAIL.encode() not in response.content
    logged = [record for record in caplog.records if record.exc_info]
    assert logged, "the traceback is logged"
    assert SECRET_DETAIL in caplog.text


@pytest.mark.django_db
def test_an_unexpected_exception_in_the_ui_is_a_friendly_page(admin, monkeypatch):
    monkeypatch.setattr("accounts.serviceaccount_views.service_account_create", crash)
    client = signed_in(admin)
    client.raise_request_exception = False
    response = client.post("/org/serviceaccounts/create", {"name": "robot", "role": "Viewer"})
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Something went wrong" in response.content
    assert SECRET_DETAIL.encode() not in response.content


@pytest.mark.django_db
def test_a_bad_host_under_api_is_a_json_400(client):
    response = client.get("/api/health", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert json.loads(response.content) == {"message": "Bad request"}


# --- A busy database --------------------------------------------------------------------------


@contextmanager
def row_locked_elsewhere(account: ServiceAccount) -> Iterator[None]:
    """Another connection holds a write lock on the account's row (and, on SQLite, on the
    whole database) until the block ends; this connection gives up waiting at once."""
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], uri=True, timeout=0)
        other.isolation_level = None
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE accounts_serviceaccount SET name = name WHERE id = ?", [account.pk])
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        sql = "SELECT id FROM accounts_serviceaccount WHERE id = %s FOR UPDATE"
        other.execute(sql, [account.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '100ms'")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
            other.rollback()


@pytest.mark.django_db(transaction=True)
def test_a_busy_database_is_a_503_with_retry_after_in_the_api(client, admin, make_account):
    account = make_account("robot")
    url = f"/api/serviceaccounts/{account.pk}"
    with row_locked_elsewhere(account):
        response = call(client, "PATCH", url, {"name": "x"})
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert "busy" in json.loads(response.content)["message"]
    account.refresh_from_db()
    assert account.name == "robot"
    assert call(client, "PATCH", url, {"name": "x"}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_busy_database_is_a_503_page_in_the_ui(admin, make_account):
    account = make_account("robot")
    client = signed_in(admin)
    client.raise_request_exception = False
    with row_locked_elsewhere(account):
        response = client.post(f"/org/serviceaccounts/{account.pk}/disable")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Keyhouse is busy" in response.content
    account.refresh_from_db()
    assert not account.is_disabled
