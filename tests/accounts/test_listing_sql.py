"""The hand-written listing (``accounts.listing.ListingQuery``, behind the search API) returns
exactly what the ORM's ``ServiceAccountQuerySet.listing`` does: the same rows, values, order
and total, for every combination of filters, tricky search text and paging edge."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.listing import ListingQuery
from accounts.models import ServiceAccount, list_item
from tokens.models import ServiceAccountToken

QUERIES = ["", "BOT", "bot one", "ß", "SS", "50%", "a_b", "\\", "sa-", "  x\x00 ", "nothing"]
FLAGS = list(itertools.product([False, True], repeat=3))


def orm_listing(org, query, disabled, expired, expiring):
    return (
        ServiceAccount.objects.for_org(org)
        .listing(query=query, disabled_only=disabled, expired_only=expired, expiring_only=expiring)
        .values(*ServiceAccount.API_FIELDS, "token_count")
    )


@pytest.fixture
def accounts(make_account, other_org):
    now = timezone.now()
    made = {}
    for name in ["Bot One", "bot two", "Straße", "50% off", "a_b", "a-b", "back\\slash", "plain"]:
        made[name] = make_account(name, is_disabled=name in ("Bot One", "a_b"))
    outsider = ServiceAccount.objects.create(org=other_org, name="bot other", login="x-bot-other")

    def token(account, name, days, **fields):
        ServiceAccountToken.objects.create(
            service_account=account,
            name=name,
            digest=f"{ServiceAccountToken.objects.count() + 1:064x}",
            expires_at=None if days is None else now + timedelta(days=days),
            **fields,
        )

    token(made["Bot One"], "gone", -1)
    token(made["Bot One"], "soon", 2)
    token(made["bot two"], "soon", 3)
    token(made["Straße"], "later", 90)
    token(made["Straße"], "never", None)
    token(made["50% off"], "revoked soon", 2, is_revoked=True)
    token(made["a-b"], "rotated soon", 2, rotated_at=now)
    token(made["back\\slash"], "gone", -5)
    token(outsider, "gone", -1)
    token(outsider, "soon", 2)
    return made


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(("disabled", "expired", "expiring"), FLAGS)
def test_every_filter_and_search_returns_what_the_orm_does(
    org, accounts, query, disabled, expired, expiring
):
    flags = {"disabled_only": disabled, "expired_only": expired, "expiring_only": expiring}
    listing = ListingQuery(org_id=org.pk, query=query, **flags)
    expected = orm_listing(org, query, disabled, expired, expiring)
    assert listing.count() == expected.count()
    assert listing[0:1000] == [list_item(row) for row in expected]


@pytest.mark.parametrize(("offset", "limit"), [(0, 1), (0, 3), (3, 3), (6, 3), (7, 5), (8, 1)])
@pytest.mark.parametrize(("query", "expired"), [("", False), ("b", False), ("", True)])
def test_every_page_is_the_orms_page(org, accounts, offset, limit, query, expired):
    listing = ListingQuery(org_id=org.pk, query=query, expired_only=expired)
    expected = orm_listing(org, query, False, expired, False)[offset : offset + limit]
    assert listing[offset : offset + limit] == [list_item(row) for row in expected]


def test_the_values_have_the_orms_types(org, accounts):
    [row] = ListingQuery(org_id=org.pk, query="bot one")[0:1]
    assert row["isDisabled"] is True
    assert (type(row["id"]), type(row["tokens"]), type(row["role"])) == (int, int, str)


def test_an_empty_org_has_no_rows(other_org, make_account):
    make_account("in the first org")
    assert ListingQuery(org_id=other_org.pk).count() == 0
    assert ListingQuery(org_id=other_org.pk)[0:50] == []
