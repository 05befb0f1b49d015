"""The OpenAPI document against the running server, by schemathesis.

Every documented operation is called over HTTP on the live server, as an Admin service
account's token, with schemathesis' coverage cases (boundaries, missing and wrong-typed fields,
undocumented methods) and a few generated ones. No response may be a server error or differ
from the document (status, content type, headers, body), and no request the document calls
valid may be refused as bad. The run is derandomized, so CI sends the same requests every
time (about 60 per operation, 20-25 s in all) and a failure always reproduces.
"""

import pytest
import schemathesis
import schemathesis.transport.requests
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.access import Identity
from accounts.api import openapi_document
from accounts.roles import Role
from accounts.services import service_account_create
from tokens.services import token_create

CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            # A request the document calls valid may still pick an org the token is not in
            # (X-Grafana-Org-Id: 401), need a server admin (403), name a missing object (404)
            # or a taken name (409); it is never a 400.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409"]},
        },
    }
)
# What GET /api/openapi.json serves, with the test settings' limits in place.
SCHEMA = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]


@pytest.fixture(autouse=True)
def _no_connection_counting(monkeypatch) -> None:
    """grafana-client's urllib3-future takes over the ``urllib3`` package in this environment
    (its .pth file rewrites it at every start-up), and schemathesis' count of open connections,
    only used to resend a request the server dropped unread, cannot read its pool manager."""
    monkeypatch.setattr(schemathesis.transport.requests, "_count_opened_connections", lambda _: 0)


@pytest.fixture
def bearer(transactional_db, org, admin) -> dict[str, str]:
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)
    robot = service_account_create(identity=identity, name="schemathesis", role=Role.ADMIN)
    _, secret = token_create(identity=identity, account=robot, name="schemathesis", expires_at=None)
    return {"Authorization": f"Bearer {secret}"}


@SCHEMA.parametrize()
@settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_matches_the_document(case, live_server, bearer):
    case.call_and_validate(base_url=live_server.url, headers=bearer, checks=CHECKS)
