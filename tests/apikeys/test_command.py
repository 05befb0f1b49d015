import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from apikeys import services
from apikeys.models import ApiKey
from tests.helpers import half_migrated

pytestmark = pytest.mark.django_db


def test_dry_run_changes_nothing(make_key, org, capsys):
    make_key("deploy", role=Role.EDITOR)
    call_command("migrate_api_keys", "--org", str(org.pk), "--dry-run")
    out = capsys.readouterr().out
    assert "1 API key(s) would be migrated" in out
    assert "deploy -> sa-autogen-deploy (Editor)" in out
    assert not ServiceAccount.objects.exists()


def test_migrates_one_org_with_progress(make_key, org, other_org, outsider, capsys):
    make_key("a")
    make_key("b")
    theirs = Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider)
    make_key("c", identity=theirs)
    call_command("migrate_api_keys", "--org", str(org.pk))
    captured = capsys.readouterr()
    assert "Migration summary: total 2, migrated 2, failed 0" in captured.out
    assert "2/2" in captured.err
    assert ApiKey.objects.get(name="c").migrated_at is None


def test_all_orgs(make_key, org, other_org, outsider, capsys):
    make_key("a")
    make_key("c", identity=Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider))
    call_command("migrate_api_keys", "--all-orgs")
    assert not ApiKey.objects.unmigrated().exists()


def test_unknown_org_is_an_error(db):
    with pytest.raises(CommandError, match="no organization with id 424242"):
        call_command("migrate_api_keys", "--org", "424242")


ROOT = Path(__file__).resolve().parents[2]
KILL_KEYS = 3000  # 6 batches: the kill lands long before the last
SEED = """
import hashlib
from accounts.services import org_create
from apikeys.models import ApiKey
org = org_create(name="Doomed")
ApiKey.objects.bulk_create(
    ApiKey(org=org, name=f"key {n}", name_key=f"key {n}",
           digest=hashlib.sha256(f"secret {n}".encode()).hexdigest())
    for n in range(%d)
)
print(org.pk)
"""


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our manage.py)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def test_a_killed_command_leaves_whole_keys_and_a_rerun_finishes(tmp_path):
    """A real ``manage.py migrate_api_keys`` on its own database file, killed (SIGKILL: nothing
    runs after it) once it reported its first batch."""
    database = tmp_path / "keyhouse.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DATABASE_URL": f"sqlite:///{database}",
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--no-input", "-v0")
    org_id = manage(env, "shell", "-c", SEED % KILL_KEYS).stdout.split()[-1]
    command = [sys.executable, "manage.py", "migrate_api_keys", "--org", org_id]
    process = subprocess.Popen(  # noqa: S603 (our manage.py)
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    seen = b""
    while f"/{KILL_KEYS}".encode() not in seen:  # the progress bar after the first batch
        chunk = process.stderr.read1(4096)
        assert chunk, "the command ended before reporting a batch"
        seen += chunk
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()

    def state() -> tuple[int, int, int, bool]:
        with closing(sqlite3.connect(database)) as db:
            assert half_migrated(db.cursor()) == []
            migrated = db.execute(
                "SELECT count(*) FROM apikeys_apikey WHERE migrated_at IS NOT NULL"
            ).fetchone()[0]
            accounts = db.execute("SELECT count(*) FROM accounts_serviceaccount").fetchone()[0]
            tokens = db.execute("SELECT count(*) FROM tokens_serviceaccounttoken").fetchone()[0]
            marked = db.execute(
                "SELECT api_keys_migrated_at IS NOT NULL FROM accounts_organization WHERE id = ?",
                (org_id,),
            ).fetchone()[0]
        return migrated, accounts, tokens, bool(marked)

    migrated, accounts, tokens, marked = state()
    assert 0 < migrated < KILL_KEYS
    assert migrated % services.MIGRATION_BATCH_SIZE == 0  # whole batches, nothing in between
    assert (accounts, tokens, marked) == (migrated, migrated, False)

    rerun = manage(env, "migrate_api_keys", "--org", org_id)
    left = KILL_KEYS - migrated
    assert f"Migration summary: total {left}, migrated {left}, failed 0" in rerun.stdout
    assert state() == (KILL_KEYS, KILL_KEYS, KILL_KEYS, True)
