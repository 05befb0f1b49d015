import pytest

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import service_account_create
from tokens.services import token_create


@pytest.fixture
def make_account(org, admin):
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)

    def make(name: str = "robot", **kwargs) -> ServiceAccount:
        return service_account_create(identity=identity, name=name, **kwargs)

    return make


@pytest.fixture
def account(make_account) -> ServiceAccount:
    return make_account("robot", role=Role.ADMIN)


@pytest.fixture
def make_token(account):
    def make(name: str = "t", target: ServiceAccount | None = None, **kwargs):
        kwargs.setdefault("expires_at", None)
        return token_create(account=target or account, name=name, **kwargs)

    return make
