"""Seed a throwaway Keyhouse database for the benchmarks: one org with ``--accounts`` service
accounts of ``--tokens-per-account`` tokens each, and ``--api-keys`` legacy API keys.

Run with the database chosen by ``DATABASE_URL`` (bench/run.py points it at a file under
bench/out/). The first account is an Admin and its first token is made by ``token_create``, so
its secret is real; likewise the first API key comes from ``api_key_create``. Everything else
is bulk-inserted with random distinct digests (nobody knows those secrets, which is fine: they
only have to be rows the queries walk past). Every tenth filler token has expired, as in an
org that has been running for a while. Prints one JSON object on stdout with the ids and the
real secrets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import Model

BATCH_SIZE = 5000
ORG_NAME = "Bench Org"
KEY_SECONDS_TO_LIVE = 7 * 86400


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1, help="service accounts (>= 1)")
    parser.add_argument("--tokens-per-account", type=int, default=1, help="tokens each (>= 1)")
    parser.add_argument("--api-keys", type=int, default=0, help="unmigrated legacy API keys")
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.tokens_per_account < 1 or args.api_keys < 0:
        parser.error("--accounts and --tokens-per-account must be >= 1, --api-keys >= 0")
    return args


def random_digest() -> str:
    return hashlib.sha256(os.urandom(32)).hexdigest()


def bulk_insert(model: type[Model], objects: list) -> None:
    from django.db import transaction

    for start in range(0, len(objects), BATCH_SIZE):
        with transaction.atomic():
            model._default_manager.bulk_create(objects[start : start + BATCH_SIZE])


def seed(accounts: int, tokens_per_account: int, api_keys: int) -> dict[str, object]:
    from django.utils import timezone

    from accounts.access import Identity
    from accounts.models import ServiceAccount
    from accounts.names import name_key
    from accounts.roles import Role
    from accounts.services import org_create, service_account_create
    from apikeys.models import ApiKey
    from apikeys.services import api_key_create
    from tokens.models import ServiceAccountToken
    from tokens.services import token_create

    org = org_create(name=ORG_NAME)
    admin = Identity(kind="user", org=org, role=Role.ADMIN, is_server_admin=True)
    account = service_account_create(identity=admin, name="bench-admin", role=Role.ADMIN)
    token, secret = token_create(
        identity=admin, account=account, name="bench-real", expires_at=None
    )

    now = timezone.now()
    # bulk_create skips save(), which is what fills name_key.
    bulk_insert(
        ServiceAccount,
        [
            ServiceAccount(
                org=org,
                name=f"bench-sa-{number:05d}",
                name_key=name_key(f"bench-sa-{number:05d}"),
                login=f"sa-{org.pk}-bench-sa-{number:05d}",
                role=Role.VIEWER,
            )
            for number in range(1, accounts)
        ],
    )
    filler = []
    for owner in ServiceAccount.objects.filter(org=org).order_by("pk").iterator():
        first = 1 if owner.pk == account.pk else 0  # bench-real is the admin's first token
        for number in range(first, tokens_per_account):
            name = f"bench-token-{number:05d}"
            filler.append(
                ServiceAccountToken(
                    service_account=owner,
                    name=name,
                    name_key=name_key(name),
                    digest=random_digest(),
                    created_at=now - timedelta(days=30),
                    expires_at=now - timedelta(days=1) if number % 10 == 9 else None,
                )
            )
    bulk_insert(ServiceAccountToken, filler)

    api_key_secret = ""
    if api_keys:
        _key, api_key_secret = api_key_create(
            identity=admin, name="bench-real", role=Role.EDITOR, seconds_to_live=KEY_SECONDS_TO_LIVE
        )
        bulk_insert(
            ApiKey,
            [
                ApiKey(
                    org=org,
                    name=f"bench-key-{number:06d}",
                    name_key=name_key(f"bench-key-{number:06d}"),
                    role=Role.VIEWER,
                    digest=random_digest(),
                )
                for number in range(1, api_keys)
            ],
        )

    return {
        "org_id": org.pk,
        "account_id": account.pk,
        "token_id": token.pk,
        "secret": secret,
        "api_key": api_key_secret,
        "accounts": ServiceAccount.objects.filter(org=org).count(),
        "tokens": ServiceAccountToken.objects.filter(service_account__org=org).count(),
        "api_keys": ApiKey.objects.filter(org=org).count(),
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    print(json.dumps(seed(args.accounts, args.tokens_per_account, args.api_keys)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
