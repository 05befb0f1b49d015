from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User


def find_user(text: str) -> User | None:
    """The account a sign-in names: by username, or else by e-mail address."""
    user = User.objects.filter(username=text).first()
    if user is None and "@" in text:
        user = User.objects.filter(email__iexact=text).first()
    return user


class UsernameOrEmailBackend(ModelBackend):
    """Signs in by username, or else by e-mail address."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        user = find_user(username)
        if user is None:
            # Spend the same time as a real check so response times don't reveal usernames.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def sign_in_lock_key(request: HttpRequest | None, credentials: dict | None) -> str:
    """The failure counter a sign-in attempt belongs to (django-axes' username).

    When the typed text names an account (by username or e-mail, as sign-in reads it) this is
    that account's username, so "admin" and "admin@example.com" share one counter; otherwise
    it is the text trimmed and case-folded, so "Ghost" and "ghost" do. Computed once per text
    and request: axes asks several times per attempt.
    """
    text = ((credentials or {}).get("username") or "").strip()
    if not text:
        return ""
    known: dict[str, str] = request.__dict__.setdefault("_lock_keys", {}) if request else {}
    if text not in known:
        user = find_user(text)
        known[text] = user.get_username() if user is not None else text.casefold()
    return known[text]


class SignInThrottleHandler(AxesDatabaseHandler):
    """django-axes' database handler, except that a successful sign-in clears only the
    signed-in account's own failures.

    axes' own reset deletes every failure that matches the account *or the address*, so anyone
    with an account could wipe the failures they piled up on another one from the same
    address: four guesses at "admin", one good sign-in as themselves, and again.
    """

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        account = get_client_username(request, credentials)
        count: int = AccessAttempt.objects.filter(username=account).delete()[0]
        return count
