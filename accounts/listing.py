"""``/api/serviceaccounts/search`` in hand-written SQL: the same rows as
``ServiceAccountQuerySet.listing`` (tests/accounts/test_listing_sql.py holds the two equal for
every filter and paging edge, on SQLite and PostgreSQL), without the ORM's cost.

Building the annotated, filtered queryset and compiling it twice (the COUNT, then the page)
cost more than a millisecond per request, about as much as everything else the request
does; reading 50 rows as values added half a millisecond more. Here each combination of
filters is turned into SQL once per process, and a request only binds its parameters:
the org, the search pattern and the time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models
from django.utils import timezone

from accounts.models import (
    Organization,
    ServiceAccount,
    clean_search,
    expiring_soon_window,
    list_item,
)
from accounts.names import name_key

# The columns read, in list_item()'s names: ServiceAccount.API_FIELDS and the counter.
FIELDS = (*ServiceAccount.API_FIELDS, "token_count")

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True, slots=True)
class Filters:
    searching: bool = False
    disabled_only: bool = False
    expired_only: bool = False
    expiring_only: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    where: str  # FROM … WHERE …, with %s for the parameters
    count: str  # the total, with the same parameters
    columns: str
    order: str
    converters: tuple[tuple[str, tuple[Converter, ...], Any], ...]  # (field, converters, expr)


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """One org's listing for the given filters: ``count()`` and slices of API dicts, the
    two things ``api_base.paged`` asks of it."""

    org_id: int
    query: str = ""
    disabled_only: bool = False
    expired_only: bool = False
    expiring_only: bool = False

    def _plan_and_params(self) -> tuple[Plan, list[Any]]:
        query = clean_search(self.query)
        filters = Filters(bool(query), self.disabled_only, self.expired_only, self.expiring_only)
        params: list[Any] = [self.org_id]
        if query:
            prep = connection.ops.prep_for_like_query
            params += [f"%{prep(name_key(query))}%", f"%{prep(query)}%"]
        if self.disabled_only:
            params.append(True)
        if self.expired_only or self.expiring_only:
            now = timezone.now()
            adapt = connection.ops.adapt_datetimefield_value
            if self.expired_only:
                params.append(adapt(now))
            if self.expiring_only:
                params += [False, adapt(now), adapt(now + expiring_soon_window())]
        return _plan(connection.vendor, filters), params

    def count(self) -> int:
        plan, params = self._plan_and_params()
        with connection.cursor() as cursor:
            cursor.execute(plan.count, params)
            total: int = cursor.fetchone()[0]
            return total

    def __getitem__(self, page: slice) -> list[dict]:
        offset = page.start or 0
        plan, params = self._plan_and_params()
        sql = f"SELECT {plan.columns} {plan.where} {plan.order} LIMIT %s OFFSET %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, page.stop - offset, offset])
            rows = cursor.fetchall()
        return [list_item(_read(plan, row)) for row in rows]


def _read(plan: Plan, row: Sequence[Any]) -> dict[str, Any]:
    values = dict(zip(FIELDS, row, strict=True))
    for name, converters, expression in plan.converters:
        value = values[name]
        if value is not None:
            for converter in converters:
                value = converter(value, expression, connection)
            values[name] = value
    return values


@cache
def _plan(vendor: str, filters: Filters) -> Plan:
    """The statement's parts for ``filters``; only model metadata is pasted in."""
    tokens = ServiceAccount._meta.get_field("tokens").related_model
    assert not isinstance(tokens, str)
    ops, quote = connection.ops, connection.ops.quote_name

    def column(model: type[models.Model], alias: str, name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field)
        return f"{alias}.{quote(field.column)}"

    def contains(lookup: str, name: str) -> str:
        lhs = ops.lookup_cast(lookup, "CharField") % column(ServiceAccount, "a", name)
        return f"{lhs} {connection.operators[lookup] % '%s'}"

    def has_token(condition: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM {quote(tokens._meta.db_table)} t "  # noqa: S608
            f"WHERE {column(tokens, 't', 'service_account')} = {column(ServiceAccount, 'a', 'id')} "
            f"AND {condition})"
        )

    where = [f"{column(ServiceAccount, 'a', 'org')} = %s"]
    if filters.searching:  # ServiceAccountQuerySet.search
        where.append(f"({contains('contains', 'name_key')} OR {contains('icontains', 'login')})")
    if filters.disabled_only:
        where.append(f"{column(ServiceAccount, 'a', 'is_disabled')} = %s")
    expires_at = column(tokens, "t", "expires_at")
    if filters.expired_only:  # models._expired
        where.append(has_token(f"{expires_at} <= %s"))
    if filters.expiring_only:  # models.expiring_tokens
        where.append(
            has_token(
                f"{column(tokens, 't', 'is_revoked')} = %s AND "
                f"{column(tokens, 't', 'rotated_at')} IS NULL AND "
                f"{expires_at} > %s AND {expires_at} <= %s"
            )
        )
    converters = []
    for name in FIELDS:
        field = ServiceAccount._meta.get_field(name)
        assert isinstance(field, models.Field)
        expression = field.get_col(ServiceAccount._meta.db_table)
        # The same converters, in the same order, as the ORM's SQL compiler applies.
        found = ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if found:
            converters.append((name, tuple(found), expression))
    where_sql = f"FROM {quote(ServiceAccount._meta.db_table)} a WHERE {' AND '.join(where)}"
    count = f"SELECT COUNT(*) {where_sql}"
    if filters == Filters():  # the whole org: its counter, not a walk over every account
        org = Organization._meta
        count = (
            f"SELECT {quote(org.get_field('service_account_count').column)} "  # noqa: S608
            f"FROM {quote(org.db_table)} WHERE {quote(org.pk.column)} = %s"
        )
    return Plan(
        where=where_sql,
        count=count,
        columns=", ".join(column(ServiceAccount, "a", name) for name in FIELDS),
        # The (org, name_key) unique index's order: no sort, and LIMIT stops the walk.
        order=f"ORDER BY {column(ServiceAccount, 'a', 'org')}, "
        f"{column(ServiceAccount, 'a', 'name_key')}",
        converters=tuple(converters),
    )
