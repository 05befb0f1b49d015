"""Forgot password?: Django's reset views and tokens, one answer whatever the address, a
mail in plain text with an HTML alternative, throttled per address and per client, and a
link that works once, within the hour."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.passwords import services
from tests.helpers import PASSWORD, assert_password_rules_describe, page_text, signed_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase"


def ask(email: str, client: Client | None = None, **extra):
    return (client or Client()).post("/login/forgot", {"email": email}, **extra)


def reset_path() -> str:
    return re.search(r"http://testserver(/login/reset/\S+)", mail.outbox[-1].body).group(1)


def choose(path: str, password: str = NEW_PASSWORD) -> tuple[Client, object]:
    client = Client()
    form_url = client.get(path)["Location"]  # Django moves the token out of the address
    response = client.post(form_url, {"new_password1": password, "new_password2": password})
    return client, response


def test_the_login_page_links_to_it(db):
    html = page_text(Client().get("/login"))
    assert 'href="/login/forgot"' in html
    assert "Forgot password?" in html


def test_mail_content(admin):
    response = ask("ALICE@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/login/forgot/sent"
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "[Keyhouse] Reset your password"
    assert "(alice)" in message.body
    assert "within 60 minutes" in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    path = reset_path()
    assert path in message.body
    assert path in html


def test_the_same_answer_whether_or_not_the_address_exists(admin):
    known, unknown = ask("alice@example.com"), ask("ghost@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1
    sent = page_text(Client().get(known["Location"]))
    assert "If an account has that address" in sent


def test_disabled_users_get_no_mail(admin):
    admin.is_active = False
    admin.save()
    ask("alice@example.com")
    assert not mail.outbox


def test_the_link_sets_a_new_password_once(admin):
    old_session = signed_in(admin)
    ask("alice@example.com")
    path = reset_path()
    client, response = choose(path)
    assert response.status_code == 302
    assert "Your new password is set" in page_text(client.get(response["Location"]))
    admin.refresh_from_db()
    assert admin.check_password(NEW_PASSWORD)
    # Other sign-ins end with the old password.
    assert old_session.get("/profile").status_code == 302
    again = Client().get(path, follow=True)
    assert "This link is not valid" in page_text(again)


def test_password_validators_apply(admin):
    ask("alice@example.com")
    _, response = choose(reset_path(), "123")
    assert response.status_code == 200
    assert "This password is too short" in page_text(response)
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)


def test_the_link_expires_within_the_hour(admin, settings, monkeypatch):
    assert settings.PASSWORD_RESET_TIMEOUT <= 3600
    ask("alice@example.com")
    path = reset_path()
    later = default_token_generator._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    response = Client().get(path, follow=True)
    assert "This link is not valid" in page_text(response)


def test_throttled_per_address_with_the_same_answer(admin, monkeypatch):
    monkeypatch.setattr(services, "MAX_PER_ADDRESS", 2)
    answers = {ask("alice@example.com", REMOTE_ADDR=f"192.0.2.{n}")["Location"] for n in range(4)}
    assert answers == {"/login/forgot/sent"}
    assert len(mail.outbox) == 2
    for n in range(3):  # unknown addresses count the same way, so the answer tells nothing
        assert ask("ghost@example.com", REMOTE_ADDR=f"198.51.100.{n}").status_code == 302


def test_throttled_per_client(admin, monkeypatch):
    monkeypatch.setattr(services, "MAX_PER_CLIENT", 3)
    for n in range(3):
        assert ask(f"someone{n}@example.com").status_code == 302
    refused = ask("alice@example.com")
    assert refused.status_code == 429
    assert "Too many password reset requests" in page_text(refused)
    assert not mail.outbox
    assert ask("alice@example.com", REMOTE_ADDR="192.0.2.99").status_code == 302
    assert len(mail.outbox) == 1


def test_the_throttle_forgets_after_an_hour(admin, monkeypatch):
    monkeypatch.setattr(services, "MAX_PER_ADDRESS", 1)
    ask("alice@example.com")
    ask("alice@example.com")
    assert len(mail.outbox) == 1
    later = timezone.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    ask("alice@example.com")
    assert len(mail.outbox) == 2


def test_addresses_are_not_stored(admin):
    ask("alice@example.com")
    from accounts.models import ResetRequest

    assert "alice" not in str(list(ResetRequest.objects.values()))


def test_the_validators_help_is_the_new_passwords_description(admin):
    html = page_text(signed_in(admin).get("/profile"))
    assert_password_rules_describe(html, "id_new_password1")
