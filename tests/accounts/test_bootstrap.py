import pytest
from django.core.management import call_command

from accounts.models import MAIN_ORG_ID, User

pytestmark = pytest.mark.django_db


def test_ensure_admin_uses_the_given_password(monkeypatch, capsys):
    monkeypatch.setenv("KEYHOUSE_ADMIN_USER", "boss")
    monkeypatch.setenv("KEYHOUSE_ADMIN_PASSWORD", "a-long-chosen-password")
    call_command("ensure_admin")
    user = User.objects.get(username="boss")
    assert user.is_superuser
    assert user.check_password("a-long-chosen-password")
    assert user.memberships.get().org_id == MAIN_ORG_ID
    assert "a-long-chosen-password" not in capsys.readouterr().out


def test_ensure_admin_generates_and_prints_a_password_once(monkeypatch, capsys):
    monkeypatch.delenv("KEYHOUSE_ADMIN_USER", raising=False)
    monkeypatch.delenv("KEYHOUSE_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    out = capsys.readouterr().out
    password = out.rsplit(": ", 1)[1].strip()
    user = User.objects.get(username="admin")
    assert user.check_password(password)
    assert not user.check_password("admin")
    call_command("ensure_admin")
    assert "already exists" in capsys.readouterr().out
    user.refresh_from_db()
    assert user.check_password(password)


@pytest.mark.parametrize("weak", ["admin", "12345678", "password"])
def test_ensure_admin_refuses_a_weak_chosen_password(monkeypatch, weak):
    from django.core.management import CommandError

    monkeypatch.setenv("KEYHOUSE_ADMIN_USER", "admin")
    monkeypatch.setenv("KEYHOUSE_ADMIN_PASSWORD", weak)
    with pytest.raises(CommandError, match="too weak"):
        call_command("ensure_admin")
    assert not User.objects.filter(username="admin").exists()
