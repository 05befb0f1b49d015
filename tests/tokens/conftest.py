from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ServiceAccount
from accounts.roles import Role
from tokens.services import token_create


@pytest.fixture
def account(make_account) -> ServiceAccount:
    return make_account("robot", role=Role.ADMIN)


@pytest.fixture
def make_token(account, org_admin):
    def make(name: str = "t", target: ServiceAccount | None = None, **kwargs):
        kwargs.setdefault("expires_at", None)
        kwargs.setdefault("identity", org_admin)
        return token_create(account=target or account, name=name, **kwargs)

    return make


class Clock:
    """The time ``django.utils.timezone.now()`` answers while the ``clock`` fixture is on."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Move time in a test (``clock.advance(hours=25)``) instead of sleeping."""
    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock
