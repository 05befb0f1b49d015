from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User


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
        user = User.objects.filter(username=username).first()
        if user is None and "@" in username:
            user = User.objects.filter(email__iexact=username).first()
        if user is None:
            # Spend the same time as a real check so response times don't reveal usernames.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def axes_username(request: HttpRequest, credentials: dict | None) -> str:
    """Count failures for "Admin" and "admin" together."""
    return ((credentials or {}).get("username") or "").strip().lower()
