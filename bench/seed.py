"""Seed a throwaway Keyhouse database for bench/run.py: one org, one Admin service account and
``--tokens`` service-account tokens.

Run with the database chosen by ``DATABASE_URL`` (run.py points it at a file under bench/out/).
One token is made by ``token_create`` so its secret is real and verifiable; the rest are
bulk-inserted with random, distinct digests (nobody knows their secrets, which is fine: they
only have to be rows in the index the lookup walks). Prints one JSON object on stdout with the
org id and the real token's secret.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

BATCH_SIZE = 5000
ORG_NAME = "Bench Org"
ACCOUNT_NAME = "bench-admin"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, required=True, help="total tokens wanted (>= 1)")
    args = parser.parse_args(argv)
    if args.tokens < 1:
        parser.error("--tokens must be at least 1")
    return args


def seed(total_tokens: int) -> dict[str, object]:
    """Create the org, the account and ``total_tokens`` tokens; return what run.py needs."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.access import Identity
    from accounts.names import name_key
    from accounts.roles import Role
    from accounts.services import org_create, service_account_create
    from tokens.models import ServiceAccountToken
    from tokens.services import token_create

    org = org_create(name=ORG_NAME)
    admin = Identity(kind="user", org=org, role=Role.ADMIN, is_server_admin=True)
    account = service_account_create(identity=admin, name=ACCOUNT_NAME, role=Role.ADMIN)
    _token, secret = token_create(
        identity=admin, account=account, name="bench-real", expires_at=None
    )

    now = timezone.now()
    for start in range(1, total_tokens, BATCH_SIZE):
        batch = []
        for number in range(start, min(start + BATCH_SIZE, total_tokens)):
            name = f"bench-filler-{number}"
            batch.append(
                ServiceAccountToken(
                    service_account=account,
                    name=name,
                    name_key=name_key(name),  # bulk_create skips save(), which sets it
                    digest=hashlib.sha256(os.urandom(32)).hexdigest(),
                    created_at=now,
                )
            )
        with transaction.atomic():
            ServiceAccountToken.objects.bulk_create(batch)

    count = ServiceAccountToken.objects.filter(service_account=account).count()
    if count != total_tokens:
        raise SystemExit(f"seeded {count} tokens, expected {total_tokens}")
    return {"org_id": org.pk, "account_id": account.pk, "tokens": count, "secret": secret}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(json.dumps(seed(args.tokens)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
