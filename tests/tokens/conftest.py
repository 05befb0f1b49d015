import pytest

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
