"""The API's authentication hot path: find a credential by its digest with one hand-written
query, check it, and turn it into an ``Identity``. Service-account tokens are the
``KEYHOUSE_CREDENTIAL_BACKENDS`` entry here; ``apikeys.auth`` declares one more lookup.

Building a query through the ORM costs far more than running it (about 1 ms to compile a
three-table ``select_related`` against ~30 µs to execute on SQLite), and every API request
does one such lookup. So each kind of credential declares its columns once, as (model,
field) pairs in a ``CredentialLookup``; the SQL is built from that once per process, and
``_found`` reads a row through the converters the ORM itself would apply. The contract test
(``tests/tokens/test_hot_path.py``) holds this reading equal to the ORM's on every database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.access import Credential, Identity, IdentityKind
from accounts.api_auth import AuthenticationFailed, Credentials, parse_authorization
from accounts.models import Organization, ServiceAccount
from accounts.network import client_address
from accounts.roles import Role
from tokens import format as token_format
from tokens.models import USER_AGENT_MAX_LENGTH, ServiceAccountToken
from tokens.services import record_expiries

logger = logging.getLogger("keyhouse.auth")

Column = tuple[type[models.Model], str]  # (model, field name)

# Every lookup joins the credential's org and reads these columns of it, last.
ORG_FIELDS = ("id", "name", "api_keys_migrated_at", "api_keys_hidden")


@dataclass(frozen=True, slots=True)
class FoundCredential:
    """What authentication needs of a token's (or legacy key's) row and its org.

    Plain values rather than model instances: building models costs more than the query.
    """

    model: type[models.Model]  # where the row and its last_used_at live
    pk: int
    kind: IdentityKind
    owner_id: int  # the service account (or, for an unmigrated key, the key itself)
    login: str  # the service account's (empty for an unmigrated key)
    name: str  # the service account's (or an unmigrated key's own)
    role: str
    is_disabled: bool
    is_revoked: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    records_client: bool  # the row also keeps where it was last used from
    org: Organization


@dataclass(frozen=True, eq=False)
class CredentialLookup:
    """How one kind of credential is found by the digest of its secret.

    ``columns`` maps each ``FoundCredential`` field read from the database to its (model,
    field); ``fixed`` gives the fields that do not vary. ``org_path`` is the chain of foreign
    keys from ``model`` to the org; every model named in ``columns`` must be on it.
    ``must_be_null`` names fields of ``model`` a usable row has unset.
    """

    kind: IdentityKind
    model: type[models.Model]
    org_path: tuple[str, ...]
    columns: Mapping[str, Column]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    must_be_null: tuple[str, ...] = ()

    @cached_property
    def plan(self) -> tuple[str, tuple[Reader, ...]]:
        """The SQL and the readers of its columns, built on first use (one database per
        process decides the quoting and the converters)."""
        return _compiled(self, tuple(self.columns))

    def find(self, digest: str) -> FoundCredential | None:
        """One indexed lookup by digest, with the org (and any model between) joined in."""
        sql, readers = self.plan
        with connection.cursor() as cursor:
            cursor.execute(sql, {"digest": digest})
            row = cursor.fetchone()
        return None if row is None else _found(self, tuple(self.columns), readers, row)


@dataclass(frozen=True, eq=False)
class FirstFound:
    """Several lookups by the same digest in one statement (``UNION ALL``, one indexed
    search per table): the row of the first lookup that has it wins. A legacy key is thus
    found with the one query a token costs, not a failed token query first."""

    lookups: tuple[CredentialLookup, ...]

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Every field some lookup reads; a lookup that does not read one selects NULL."""
        return tuple(dict.fromkeys(name for lookup in self.lookups for name in lookup.columns))

    @cached_property
    def plan(self) -> tuple[str, tuple[tuple[Reader, ...], ...]]:
        """The statement (each branch tagged with its lookup's position, which orders them)
        and each lookup's readers."""
        branches = [_compiled(lookup, self.names) for lookup in self.lookups]
        sql = " UNION ALL ".join(
            f"SELECT {index} AS lookup, {select.removeprefix('SELECT ')}"
            for index, (select, _) in enumerate(branches)
        )
        return f"{sql} ORDER BY 1 LIMIT 1", tuple(readers for _, readers in branches)

    def find(self, digest: str) -> FoundCredential | None:
        sql, readers = self.plan
        with connection.cursor() as cursor:
            cursor.execute(sql, {"digest": digest})
            row = cursor.fetchone()
        if row is None:
            return None
        index, *values = row
        return _found(self.lookups[index], self.names, readers[index], values)


Reader = tuple[tuple[Any, ...], Any]  # (converters, column expression) of one selected column
UNREAD: Reader = ((), None)  # a NULL selected in place of a field this lookup does not read


def _compiled(lookup: CredentialLookup, names: Sequence[str]) -> tuple[str, tuple[Reader, ...]]:
    """The lookup's SQL selecting the fields ``names`` (NULL for those it does not read),
    then the org's, and, per selected column, how the ORM converts its raw value."""
    tables = [lookup.model]  # the credential's table, then each one joined on the way
    joins = []
    for name in lookup.org_path:
        fk = tables[-1]._meta.get_field(name)
        assert isinstance(fk, models.ForeignKey)
        target = fk.related_model
        assert not isinstance(target, str)
        tables.append(target)
        joins.append(
            f"JOIN {_quote(target._meta.db_table)} {_alias(tables, target)} ON "
            f"{_column(tables, target, target._meta.pk.name)} = "
            f"{_column(tables, tables[-2], fk.name)}"
        )
    assert tables[-1] is Organization, "org_path must end at the organization"
    selected: list[Column | None] = [lookup.columns.get(name) for name in names]
    selected += [(Organization, name) for name in ORG_FIELDS]
    unknown = {column[0] for column in selected if column} - set(tables)
    assert not unknown, f"{unknown} is not joined: extend org_path"
    where = [f"{_column(tables, lookup.model, 'digest')} = %(digest)s"]
    where += [f"{_column(tables, lookup.model, name)} IS NULL" for name in lookup.must_be_null]
    # Only model metadata is pasted in; the digest is a parameter, a named one: Django's SQLite
    # cursor rewrites positional placeholders with a regular expression run over the whole
    # statement on every execution (~10 µs here), named ones with one %-format. Short aliases
    # keep the statement short too.
    columns = ", ".join(_column(tables, *column) if column else "NULL" for column in selected)
    sql = (
        f"SELECT {columns} "  # noqa: S608
        f"FROM {_quote(lookup.model._meta.db_table)} {_alias(tables, lookup.model)} "
        f"{' '.join(joins)} WHERE {' AND '.join(where)}"
    )
    return sql, tuple(_reader(*column) if column else UNREAD for column in selected)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _alias(tables: list[type[models.Model]], model: type[models.Model]) -> str:
    return f"t{tables.index(model)}"


def _column(tables: list[type[models.Model]], model: type[models.Model], name: str) -> str:
    column = model._meta.get_field(name)
    assert isinstance(column, models.Field)
    return f"{_alias(tables, model)}.{_quote(column.column)}"


def _reader(model: type[models.Model], name: str) -> Reader:
    column = model._meta.get_field(name)
    assert isinstance(column, models.Field)
    expression = column.get_col(model._meta.db_table)
    # The same converters, in the same order, as the ORM's SQL compiler applies.
    converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(
        connection
    )
    return tuple(converters), expression


def _found(
    lookup: CredentialLookup, names: Sequence[str], readers: Sequence[Reader], row: Sequence[Any]
) -> FoundCredential:
    """The one place a row becomes a ``FoundCredential``: each value converted as the ORM
    would (NULL stays None), the fields ``names`` first and the org's last."""
    converted = []
    for value, (converters, expression) in zip(row, readers, strict=True):
        if value is not None:
            for converter in converters:
                value = converter(value, expression, connection)
        converted.append(value)
    read = {name: converted[index] for index, name in enumerate(names) if name in lookup.columns}
    org = Organization.from_db(connection.alias, ORG_FIELDS, converted[len(names) :])
    return FoundCredential(model=lookup.model, kind=lookup.kind, org=org, **lookup.fixed, **read)


TOKEN_LOOKUP = CredentialLookup(
    kind="service-account",
    model=ServiceAccountToken,
    org_path=("service_account", "org"),
    columns={
        "pk": (ServiceAccountToken, "id"),
        "owner_id": (ServiceAccountToken, "service_account"),
        "login": (ServiceAccount, "login"),
        "name": (ServiceAccount, "name"),
        "role": (ServiceAccount, "role"),
        "is_disabled": (ServiceAccount, "is_disabled"),
        "is_revoked": (ServiceAccountToken, "is_revoked"),
        "created_at": (ServiceAccountToken, "created_at"),
        "expires_at": (ServiceAccountToken, "expires_at"),
        "last_used_at": (ServiceAccountToken, "last_used_at"),
    },
    fixed={"records_client": True},
)


def identity_for(found: FoundCredential, org_id: int | None, request: HttpRequest) -> Identity:
    """The identity behind a found credential, or AuthenticationFailed with the reason.

    Every refusal carries the same client message; only the log learns which check failed.
    """
    now = timezone.now()
    label = f"{found.model._meta.verbose_name} {found.pk}"
    if found.is_revoked:
        raise AuthenticationFailed(f"{label} is revoked")
    if found.expires_at is not None and found.expires_at <= now:
        if found.model is ServiceAccountToken:
            _record_expiry(found.pk, now)
        raise AuthenticationFailed(f"{label} has expired")
    if found.is_disabled:
        raise AuthenticationFailed(f"service account {found.owner_id} is disabled")
    if org_id is not None and org_id != found.org.pk:
        raise AuthenticationFailed(f"{label} used for org {org_id}")
    touch_last_used(found, now, request)
    credential = Credential(
        kind="token" if found.model is ServiceAccountToken else "api-key",
        id=found.pk,
        login=found.login,
        name=found.name,
        created_at=found.created_at,
        expires_at=found.expires_at,
    )
    return Identity(
        kind=found.kind,
        org=found.org,
        role=Role(found.role),
        credential_id=found.owner_id,
        credential=credential,
    )


def _record_expiry(token_id: int, now: datetime) -> None:
    """The audit log's ``token.expire``, the first time an expired token is presented;
    like last use, losing it never changes the answer."""
    try:
        record_expiries(ServiceAccountToken.objects.filter(pk=token_id), now)
    except DatabaseError:
        logger.warning("could not record the expiry of token %s", token_id)


def touch_last_used(found: FoundCredential, now: datetime, request: HttpRequest) -> None:
    """Record use of a token or key at most once per interval, with one conditional UPDATE
    (for a token, with where the use came from).

    Losing this write (a locked or read-only database) never fails the request.
    """
    threshold = now - timedelta(seconds=settings.KEYHOUSE_LAST_USED_INTERVAL_SECONDS)
    if found.last_used_at is not None and found.last_used_at >= threshold:
        return  # the row we just read is recent enough: no write at all
    values: dict[str, Any] = {"last_used_at": now}
    if found.records_client:
        values |= {
            "last_used_ip": client_address(request),
            "last_used_user_agent": user_agent(request),
        }
    try:
        found.model._default_manager.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold), pk=found.pk
        ).update(**values)
    except DatabaseError:
        logger.warning("could not record last use of %s %s", found.model.__name__, found.pk)


REDACTED = "[redacted]"


def user_agent(request: HttpRequest) -> str:
    """The User-Agent to keep: printable characters only, cut to 200, and never a credential
    (a client that puts its token or Authorization value in it gets that part blanked)."""
    agent = "".join(char for char in request.META.get("HTTP_USER_AGENT", "") if char.isprintable())
    header = request.META.get("HTTP_AUTHORIZATION", "")
    credentials = parse_authorization(header)  # it parsed a moment ago: it will again
    for secret in (header.strip().partition(" ")[2].strip(), credentials and credentials.secret):
        if secret:
            agent = agent.replace(secret, REDACTED)
    return token_format.redact(agent, REDACTED)[:USER_AGENT_MAX_LENGTH]


class ServiceAccountTokenBackend:
    """``Authorization: Bearer glsa_…`` or ``Basic api_key:glsa_…``."""

    def authenticate(
        self, request: HttpRequest, credentials: Credentials, org_id: int | None
    ) -> Identity | None:
        if not credentials.is_token or token_format.parse(credentials.secret) is None:
            return None
        token = TOKEN_LOOKUP.find(token_format.digest(credentials.secret))
        if token is None:
            raise AuthenticationFailed("unknown service account token")
        return identity_for(token, org_id, request)
