"""Where a token was last used from: the client address and User-Agent written with the
throttled last-used time, in the same single UPDATE, never a credential."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys.models import ApiKey
from apikeys.services import migrate_keys
from tests.helpers import SYSTEM, basic_api_key, bearer
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db


def use(client, secret: str, *, agent: str = "curl/8.5.0", address: str = "198.51.100.7", **extra):
    headers = {**bearer(secret), "HTTP_USER_AGENT": agent, "REMOTE_ADDR": address, **extra}
    response = client.get("/api/org", **headers)
    assert response.status_code == 200
    return response


def where(token) -> tuple:
    token.refresh_from_db()
    return token.last_used_ip, token.last_used_user_agent


def test_address_and_agent_are_recorded_with_the_time_in_one_update(client, make_token):
    token, secret = make_token()
    with CaptureQueriesContext(connection) as queries:
        use(client, secret)
    assert len(queries) == 2  # the lookup, then one conditional UPDATE
    assert queries[1]["sql"].upper().startswith("UPDATE")
    assert where(token) == ("198.51.100.7", "curl/8.5.0")
    assert token.last_used_at is not None


def test_once_per_interval_then_again(client, make_token, clock, settings):
    settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS = 60
    token, secret = make_token()
    use(client, secret)
    with CaptureQueriesContext(connection) as queries:
        use(client, secret, agent="other/1.0", address="203.0.113.1")
    assert len(queries) == 1  # no write inside the interval
    assert where(token) == ("198.51.100.7", "curl/8.5.0")
    clock.advance(seconds=61)
    use(client, secret, agent="other/1.0", address="203.0.113.1")
    assert where(token) == ("203.0.113.1", "other/1.0")
    assert token.last_used_at == clock.now


def test_a_forged_forwarded_for_is_ignored_without_a_trusted_proxy(client, make_token, settings):
    settings.KEYHOUSE_BEHIND_PROXY = False
    token, secret = make_token()
    use(client, secret, HTTP_X_FORWARDED_FOR="10.9.8.7")
    assert where(token)[0] == "198.51.100.7"


def test_behind_a_trusted_proxy_the_client_is_its_forwarded_address(client, make_token, settings):
    settings.KEYHOUSE_BEHIND_PROXY = True
    settings.KEYHOUSE_PROXY_COUNT = 1
    token, secret = make_token()
    # The client forged the first entry; our proxy appended the address it saw.
    use(client, secret, address="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.44")
    assert where(token)[0] == "192.0.2.44"


def test_the_agent_is_cut_to_200_printable_characters(client, make_token):
    token, secret = make_token()
    use(client, secret, agent="A\tB\x7fC" + "x" * 300)
    agent = where(token)[1]
    assert agent == ("ABC" + "x" * 300)[:200]


def test_no_agent_and_no_address_are_stored_as_unknown(client, make_token):
    token, secret = make_token()
    use(client, secret, agent="", address="not an address")
    assert where(token) == (None, "")
    (item,) = client.get(
        f"/api/serviceaccounts/{token.service_account_id}/tokens", **bearer(secret)
    ).json()
    assert (item["lastUsedIp"], item["lastUsedUserAgent"]) == (None, None)


@pytest.mark.parametrize("how", ["bearer", "basic"])
def test_credentials_never_reach_the_stored_agent(client, make_token, how):
    token, secret = make_token()
    _, other = make_token("other")
    headers = bearer(secret) if how == "bearer" else basic_api_key(secret)
    raw = headers["HTTP_AUTHORIZATION"].split(" ", 1)[1]
    agent = f"job/1 secret={secret} header={raw} another={other} glued=X{other}ff"
    client.get("/api/org", HTTP_USER_AGENT=agent, **headers)
    stored = where(token)[1]
    assert stored == (
        "job/1 secret=[redacted] header=[redacted] another=[redacted] glued=X[redacted]ff"
    )
    row = str(list(ServiceAccountToken.objects.values()))
    assert secret not in row
    assert raw not in row
    assert other not in row


def test_a_migrated_key_records_on_its_token_and_a_legacy_key_only_the_time(client, org, make_key):
    migrated, migrated_secret = make_key("old")
    legacy, legacy_secret = make_key("new")
    migrate_keys(org, actor=SYSTEM, key_ids=[migrated.pk])
    for secret in (migrated_secret, legacy_secret):
        use(client, secret)
    token = ServiceAccountToken.objects.get(digest=migrated.digest)
    assert where(token) == ("198.51.100.7", "curl/8.5.0")
    legacy = ApiKey.objects.get(pk=legacy.pk)
    assert legacy.last_used_at is not None


def test_failures_record_nothing(client, make_token):
    token, secret = make_token()
    ServiceAccountToken.objects.filter(pk=token.pk).update(is_revoked=True)
    client.get("/api/org", HTTP_USER_AGENT="attacker/1", **bearer(secret))
    assert where(token) == (None, "")


def test_a_stale_read_still_writes_once(client, make_token, clock):
    token, secret = make_token()
    ServiceAccountToken.objects.filter(pk=token.pk).update(
        last_used_at=clock.now - timedelta(minutes=5)
    )
    use(client, secret)
    assert where(token)[0] == "198.51.100.7"
