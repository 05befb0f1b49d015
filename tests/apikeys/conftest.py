import pytest

from accounts.roles import Role
from apikeys.services import api_key_create


@pytest.fixture
def make_key(org_admin):
    def make(name: str = "key", role: Role = Role.VIEWER, seconds_to_live: int = 3600, **kw):
        identity = kw.pop("identity", org_admin)
        return api_key_create(
            identity=identity, name=name, role=role, seconds_to_live=seconds_to_live
        )

    return make


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
