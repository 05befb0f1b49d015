"""Seed the peers' database for bench/run.py with each library's own creation calls:
``--api-keys`` djangorestframework-api-key keys and ``--knox-tokens`` knox tokens, five per
user as if each user had signed in from a few devices. Run with bench/.venv-peers/bin/python
after ``manage.py migrate``; prints one JSON object with a real key and a real token.
"""

import argparse
import json
import os
import sys

TOKENS_PER_USER = 5


def seed(api_keys: int, knox_tokens: int) -> dict[str, str]:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import transaction
    from knox.models import AuthToken
    from rest_framework_api_key.models import APIKey

    with transaction.atomic():
        keys = [APIKey.objects.create_key(name=f"bench-key-{n}")[1] for n in range(api_keys)]
        users = User.objects.bulk_create(
            User(username=f"bench-user-{n}", password=make_password(None))
            for n in range((knox_tokens + TOKENS_PER_USER - 1) // TOKENS_PER_USER)
        )
        tokens = [
            AuthToken.objects.create(users[n // TOKENS_PER_USER])[1] for n in range(knox_tokens)
        ]
    return {"api_key": keys[0], "knox_token": tokens[0]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-keys", type=int, required=True)
    parser.add_argument("--knox-tokens", type=int, required=True)
    args = parser.parse_args(argv)
    if args.api_keys < 1 or args.knox_tokens < 1:
        parser.error("--api-keys and --knox-tokens must be >= 1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproject.settings")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import django

    django.setup()
    print(json.dumps(seed(args.api_keys, args.knox_tokens)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
