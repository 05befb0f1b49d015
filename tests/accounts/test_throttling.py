"""Sign-in throttling that cannot be bypassed: one counter per account however it is typed, a
successful sign-in never clears another account's failures, every client behind a proxy has
its own address bucket, and the password-change form counts toward the same lock."""

import pytest
from django.core.signals import got_request_exception
from django.test import Client
from django.views.debug import SafeExceptionReporterFilter

from tests.helpers import PASSWORD, basic_auth, signed_in

pytestmark = pytest.mark.django_db

LOCKED = b"Too many failed login attempts"
LIMIT = 5


def form_sign_in(username: str, password: str = PASSWORD, address: str = "10.0.0.1", **meta):
    client = Client(REMOTE_ADDR=address, **meta)
    response = client.post("/login", {"username": username, "password": password})
    return response.status_code == 302 and "_auth_user_id" in client.session


def basic_sign_in(username: str, password: str = PASSWORD, address: str = "10.0.0.1", **meta):
    client = Client(REMOTE_ADDR=address, **meta)
    return client.get("/api/user", **basic_auth(username, password), **meta).status_code == 200


SIGN_INS = {"form": form_sign_in, "basic": basic_sign_in}


@pytest.mark.parametrize("fail_by", SIGN_INS)
@pytest.mark.parametrize("succeed_by", SIGN_INS)
def test_signing_in_as_another_account_never_clears_its_failures(
    admin, viewer, fail_by, succeed_by
):
    fail, succeed = SIGN_INS[fail_by], SIGN_INS[succeed_by]
    for _ in range(LIMIT - 1):
        assert not fail("alice", "guess", address="10.0.0.9")
    assert succeed("vera", address="10.0.0.9")
    assert not fail("alice", "guess", address="10.0.0.9")
    # Alice's account is locked, not just the address: the right password fails from anywhere.
    assert not form_sign_in("alice", address="10.0.7.7")
    assert not basic_sign_in("alice", address="10.0.7.8")


def test_signing_in_clears_the_accounts_own_failures(admin):
    for _ in range(LIMIT - 1):
        form_sign_in("alice", "typo", address=f"10.0.3.{_}")
    assert form_sign_in("alice")
    for _ in range(LIMIT - 1):
        form_sign_in("alice", "typo", address=f"10.0.4.{_}")
    assert form_sign_in("alice")


@pytest.mark.parametrize("sign_in", SIGN_INS.values(), ids=SIGN_INS)
def test_username_and_email_count_toward_one_lock(admin, sign_in):
    typed = ["alice", "alice@example.com", "ALICE@Example.com", " alice", "Alice"]
    for number, text in enumerate(typed):
        assert not sign_in(text, "guess", address=f"10.0.5.{number}")
    assert not sign_in("alice", address="10.0.6.1")
    assert not sign_in("alice@example.com", address="10.0.6.2")


def test_text_that_names_no_account_is_counted_trimmed_and_case_folded(admin):
    for number, text in enumerate(["ghost", "Ghost", " GHOST ", "ghost", "gHost"]):
        form_sign_in(text, "guess", address=f"10.0.8.{number}")
    client = Client(REMOTE_ADDR="10.0.8.9")
    response = client.post("/login", {"username": "ghost", "password": "guess"})
    assert LOCKED in response.content
    assert form_sign_in("alice", address="10.0.8.10")


# --- Behind a proxy ---------------------------------------------------------------------------

PROXY = "10.1.0.1"


@pytest.fixture
def behind_proxy(settings):
    settings.KEYHOUSE_BEHIND_PROXY = True
    settings.KEYHOUSE_PROXY_COUNT = 1
    return settings


def test_clients_behind_one_proxy_have_their_own_buckets(behind_proxy, viewer):
    for name in ("a", "b", "c", "d", "e"):
        form_sign_in(name, "guess", address=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert not form_sign_in("vera", address=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert form_sign_in("vera", address=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert basic_sign_in("vera", address=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")


def test_a_forged_header_does_not_choose_the_bucket(behind_proxy, viewer):
    # The proxy appends the real peer; whatever the client sent stays on the left.
    for number, name in enumerate(("a", "b", "c", "d", "e")):
        forged = f"198.51.100.{number}, 10.1.0.{number}"
        form_sign_in(name, "guess", address=PROXY, HTTP_X_FORWARDED_FOR=f"{forged}, 203.0.113.7")
    forged = "203.0.113.8, 203.0.113.7"
    assert not form_sign_in("vera", address=PROXY, HTTP_X_FORWARDED_FOR=forged)
    assert form_sign_in("vera", address=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.8")


def test_without_the_header_the_peer_address_counts(behind_proxy, viewer):
    for name in ("a", "b", "c", "d", "e"):
        form_sign_in(name, "guess", address="10.2.0.1")
    assert not form_sign_in("vera", address="10.2.0.1")
    assert form_sign_in("vera", address="10.2.0.2")


def test_without_a_proxy_the_header_is_ignored(viewer):
    for number, name in enumerate(("a", "b", "c", "d", "e")):
        form_sign_in(name, "guess", address="10.3.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
    assert not form_sign_in("vera", address="10.3.0.1", HTTP_X_FORWARDED_FOR="192.0.2.99")


# --- The password change form -----------------------------------------------------------------


def change_password(client: Client, old_password: str):
    new = "n3w-Pa55phrase!"
    return client.post(
        "/profile", {"old_password": old_password, "new_password1": new, "new_password2": new}
    )


def test_wrong_current_passwords_lock_the_account(admin):
    client = signed_in(admin, REMOTE_ADDR="10.4.0.1")
    response = change_password(client, "guess")
    assert b"Your old password was entered incorrectly" in response.content
    for _ in range(LIMIT - 1):
        change_password(client, "guess")
    # The right current password is refused too, and so is signing in from anywhere.
    response = change_password(client, PASSWORD)
    assert LOCKED in response.content
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)
    assert not form_sign_in("alice", address="10.4.0.2")


def test_password_change_failures_and_sign_in_failures_share_one_counter(admin):
    client = signed_in(admin, REMOTE_ADDR="10.5.1.1")
    for number in range(LIMIT - 1):
        form_sign_in("alice@example.com", "guess", address=f"10.5.0.{number}")
    change_password(client, "guess")
    assert not form_sign_in("alice", address="10.5.1.2")


def test_password_change_form_hides_passwords_from_error_reports(admin, monkeypatch):
    reported = []

    def report(request, **kwargs) -> None:
        reported.append(request)

    def crash(*args) -> None:
        raise RuntimeError("crash after the password was checked")

    monkeypatch.setattr("accounts.views.update_session_auth_hash", crash)
    client = signed_in(admin)
    client.raise_request_exception = False
    got_request_exception.connect(report)
    try:
        assert change_password(client, PASSWORD).status_code == 500
    finally:
        got_request_exception.disconnect(report)
    shown = SafeExceptionReporterFilter().get_post_parameters(reported[0])
    for name in ("old_password", "new_password1", "new_password2"):
        assert shown[name] == "********************"
