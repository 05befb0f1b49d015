import pytest
from django.core.management import CommandError, call_command

from accounts.access import Identity
from accounts.models import ServiceAccount
from accounts.roles import Role
from apikeys.models import ApiKey

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
