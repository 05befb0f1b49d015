"""Benchmark: migrate 10 000 legacy API keys of one org to service accounts on SQLite.

Against a throwaway SQLite file (WAL, IMMEDIATE transactions, as served), an org Admin sends
the real request, ``POST /api/serviceaccounts/migrate`` through Django's full request stack,
then loads the API keys page that lists every new account. Both are timed; a migrated key must
still authenticate afterwards. Writes its section of bench/RESULTS.md (below the marker
bench/run.py keeps). Run with ``make bench`` or ``.venv/bin/python bench/migrate.py``.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
RESULTS_PATH = BENCH_DIR / "RESULTS.md"
SECTIONS_MARKER = "<!-- other benchmarks -->"
REQUEST_TIMEOUT_SECONDS = 30  # gunicorn's default worker timeout
ADMIN_PASSWORD = secrets.token_urlsafe(16)


def prepare(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=BASE_DIR,
        env=os.environ.copy(),
        check=True,
    )


def seed(count: int) -> tuple[object, str]:
    """An org with ``count`` API keys and its Admin; returns the admin and one real key."""
    from django.db import transaction

    from accounts.access import Identity
    from accounts.names import name_key
    from accounts.roles import Role
    from accounts.services import org_create, user_create
    from apikeys import format as key_format
    from apikeys.models import ApiKey
    from apikeys.services import api_key_create

    org = org_create(name="Migration bench")
    admin = user_create(login="bench-admin", password=ADMIN_PASSWORD, org=org, role=Role.ADMIN)
    identity = Identity(kind="user", org=org, role=Role.ADMIN, user=admin)
    _key, secret = api_key_create(
        identity=identity, name="real key", role=Role.EDITOR, seconds_to_live=3600
    )
    keys = []
    for number in range(count - 1):
        name = f"key {number}"
        keys.append(
            ApiKey(
                org=org,
                name=name,
                name_key=name_key(name),  # bulk_create skips save(), which sets it
                role=Role.VIEWER,
                digest=key_format.digest(secrets.token_hex(16)),
            )
        )
    with transaction.atomic():
        ApiKey.objects.bulk_create(keys, batch_size=2000)
    return admin, secret


def timed_requests(admin: object) -> tuple[dict, float, float]:
    """The migrate-all request and then the page listing the result, each timed."""
    from django.test import Client

    started = time.perf_counter()
    response = Client().post(
        "/api/serviceaccounts/migrate",
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"bench-admin:{ADMIN_PASSWORD}".encode()).decode(),
    )
    migrate_seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"migrate answered {response.status_code}: {response.content[:200]!r}")
    browser = Client()
    browser.force_login(admin)
    started = time.perf_counter()
    page = browser.get("/org/apikeys")
    page_seconds = time.perf_counter() - started
    if page.status_code != 200 or b"API keys were migrated" not in page.content:
        raise SystemExit(f"the API keys page answered {page.status_code}")
    return response.json(), migrate_seconds, page_seconds


def check_key_works(secret: str) -> None:
    from django.test import Client

    response = Client().get("/api/org", HTTP_AUTHORIZATION=f"Bearer {secret}")
    if response.status_code != 200:
        raise SystemExit(f"migrated key answered {response.status_code}, expected 200")


def write_section(count: int, result: dict, seconds: float, page_seconds: float) -> None:
    ok = seconds < REQUEST_TIMEOUT_SECONDS and page_seconds < REQUEST_TIMEOUT_SECONDS
    verdict = "PASS" if ok and result["failed"] == 0 else "FAIL"
    section = "\n".join(
        [
            SECTIONS_MARKER,
            "",
            "## Migrating API keys (bench/migrate.py)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC; SQLite (WAL, IMMEDIATE); "
            "requests through Django's whole stack (middleware, Basic auth, JSON) in-process.",
            "",
            "| Keys in the org | Migrated | Failed | `POST /api/serviceaccounts/migrate` "
            "| `GET /org/apikeys` after | Within a 30 s request |",
            "|---:|---:|---:|---:|---:|---|",
            f"| {count:,} | {result['migrated']:,} | {result['failed']} | {seconds:.1f} s "
            f"| {page_seconds:.1f} s | **{verdict}** |",
            "",
            "The real key created before migrating still answers `GET /api/org` with 200 "
            "afterwards (checked by the script).",
            "",
        ]
    )
    head = ""
    if RESULTS_PATH.exists():
        text = RESULTS_PATH.read_text()
        index = text.find(SECTIONS_MARKER)
        head = text[:index] if index >= 0 else text + "\n"
    RESULTS_PATH.write_text(head + section)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    args = parser.parse_args(argv)
    db_path = BENCH_DIR / "out" / "migrate.sqlite3"
    os.environ.update(
        DATABASE_URL=f"sqlite:///{db_path}",
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        KEYHOUSE_HTTPS="false",
        DJANGO_ALLOWED_HOSTS="testserver",
        KEYHOUSE_LOG_LEVEL="ERROR",
    )
    sys.path.insert(0, str(BASE_DIR))
    prepare(db_path)
    import django

    django.setup()
    admin, secret = seed(args.keys)
    result, seconds, page_seconds = timed_requests(admin)
    check_key_works(secret)
    write_section(args.keys, result, seconds, page_seconds)
    print(
        f"migrated {result['migrated']} of {result['total']} keys in {seconds:.1f} s; "
        f"the API keys page took {page_seconds:.1f} s"
    )
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
