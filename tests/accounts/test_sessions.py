"""A sign-in ends after KEYHOUSE_SESSION_IDLE_SECONDS without a request and
KEYHOUSE_SESSION_MAX_SECONDS after it began; signed-in pages are never stored by browsers."""

import time

import pytest
from django.test import Client

from accounts.middleware import SEEN_AT, SIGNED_IN_AT
from tests.helpers import PASSWORD, basic_auth, signed_in

pytestmark = pytest.mark.django_db

HOUR = 3600
DAY = 24 * HOUR
PAGE = "/org/serviceaccounts"


def log_in(client: Client) -> None:
    response = client.post("/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


def travel(client: Client, seconds: int) -> None:
    """Pretend ``seconds`` passed since the session's timestamps were written."""
    session = client.session
    for key in (SIGNED_IN_AT, SEEN_AT):
        session[key] -= seconds
    session.save()


def is_signed_in(client: Client) -> bool:
    response = client.get(PAGE)
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert response.url == f"/login?next={PAGE}"
    return False


def test_the_default_limits_are_12_hours_idle_and_7_days_in_all(client, admin):
    log_in(client)
    assert is_signed_in(client)
    travel(client, 12 * HOUR - 120)
    assert is_signed_in(client)
    travel(client, 12 * HOUR - 120)  # a request every 12 hours keeps it going...
    assert is_signed_in(client)
    for _ in range(13):  # 167 hours in all
        travel(client, 11 * HOUR)
        assert is_signed_in(client)
    travel(client, 11 * HOUR)  # ...but never for more than 7 days (168 hours)
    assert not is_signed_in(client)


def test_a_session_left_idle_too_long_ends(client, admin):
    log_in(client)
    assert is_signed_in(client)
    travel(client, 12 * HOUR)
    assert not is_signed_in(client)
    assert "_auth_user_id" not in client.session
    # It stays ended: activity after the limit does not revive it.
    assert not is_signed_in(client)
    response = client.get("/login")
    assert b"Your session has expired. Log in again." in response.content


def test_limits_come_from_the_settings(client, admin, settings):
    settings.KEYHOUSE_SESSION_IDLE_SECONDS = 600
    settings.KEYHOUSE_SESSION_MAX_SECONDS = 1800
    log_in(client)
    assert is_signed_in(client)
    travel(client, 590)  # a margin for the seconds the test itself takes
    assert is_signed_in(client)
    travel(client, 600)
    assert not is_signed_in(client)
    log_in(client)
    for _ in range(3):
        travel(client, 500)
        assert is_signed_in(client)
    travel(client, 500)
    assert not is_signed_in(client)


def test_logging_in_again_starts_a_new_session(client, admin):
    log_in(client)
    travel(client, 7 * DAY)
    assert not is_signed_in(client)
    log_in(client)
    assert time.time() - client.session[SIGNED_IN_AT] < 60
    assert is_signed_in(client)


def test_htmx_requests_of_an_expired_session_go_to_the_login_page(client, admin):
    log_in(client)
    assert is_signed_in(client)
    travel(client, 12 * HOUR)
    response = client.get(PAGE, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == f"/login?next={PAGE}"


def test_activity_is_recorded_at_most_once_a_minute(client, admin):
    log_in(client)
    assert is_signed_in(client)
    seen = client.session[SEEN_AT]
    assert is_signed_in(client)
    assert client.session[SEEN_AT] == seen
    travel(client, 61)
    assert is_signed_in(client)
    assert client.session[SEEN_AT] > seen - 61


def test_signed_in_pages_are_never_stored(admin_client):
    for url in (PAGE, "/profile", "/org/apikeys", "/logout"):
        cache_control = admin_client.get(url)["Cache-Control"]
        assert "no-store" in cache_control, url
        assert "private" in cache_control, url


def test_the_api_has_no_session_work(client, admin):
    response = client.get("/api/org", **basic_auth("alice"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "sessionid" not in response.cookies


def test_sessions_cookie_lives_no_longer_than_the_idle_limit(client, admin):
    log_in(client)
    assert client.cookies["sessionid"]["max-age"] == 12 * HOUR


def test_a_session_without_timestamps_starts_counting_now(admin):
    client = signed_in(admin)
    session = client.session
    del session[SIGNED_IN_AT], session[SEEN_AT]
    session.save()
    assert is_signed_in(client)
    assert time.time() - client.session[SIGNED_IN_AT] < 60
