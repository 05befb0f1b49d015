import pytest
from django.core.exceptions import ValidationError

from accounts.access import Identity
from accounts.errors import Conflict, RoleCeilingExceeded
from accounts.models import ServiceAccount
from accounts.roles import Role
from accounts.services import (
    service_account_create,
    service_account_delete,
    service_account_update,
)
from tokens.models import ServiceAccountToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def acting_admin(org, admin) -> Identity:
    return Identity(kind="user", org=org, role=Role.ADMIN, user=admin)


def test_create_derives_login_and_records_creator(acting_admin, org, admin):
    account = service_account_create(identity=acting_admin, name="  Grafana Backup ")
    assert account.name == "Grafana Backup"
    assert account.login == f"sa-{org.pk}-grafana-backup"
    assert account.role == Role.VIEWER
    assert account.created_by == admin


@pytest.mark.parametrize("duplicate", ["grafana backup", "GRAFANA BACKUP", "\uff27rafana Backup"])
def test_names_are_unique_per_org_ignoring_case_and_unicode_width(acting_admin, duplicate):
    service_account_create(identity=acting_admin, name="Grafana Backup")
    with pytest.raises(Conflict, match="already exists"):
        service_account_create(identity=acting_admin, name=duplicate)


def test_unicode_names_fold_case_beyond_ascii(acting_admin):
    service_account_create(identity=acting_admin, name="Überwachung")
    with pytest.raises(Conflict):
        service_account_create(identity=acting_admin, name="ÜBERWACHUNG")


def test_same_name_is_fine_in_another_org(acting_admin, other_org, outsider):
    service_account_create(identity=acting_admin, name="ci")
    other = Identity(kind="user", org=other_org, role=Role.ADMIN, user=outsider)
    assert service_account_create(identity=other, name="ci").login == f"sa-{other_org.pk}-ci"


def test_login_collision_is_a_clear_conflict(acting_admin, org):
    service_account_create(identity=acting_admin, name="my app")
    with pytest.raises(Conflict, match=f"login 'sa-{org.pk}-my-app'"):
        service_account_create(identity=acting_admin, name="my-app")


@pytest.mark.parametrize("name", ["", "   ", "x" * 191, "bad\x00name", "tab\tname"])
def test_invalid_names_are_refused(acting_admin, name):
    with pytest.raises(ValidationError):
        service_account_create(identity=acting_admin, name=name)


def test_role_ceiling(org, editor):
    acting_editor = Identity(kind="user", org=org, role=Role.EDITOR, user=editor)
    with pytest.raises(RoleCeilingExceeded, match="Cannot assign a role higher than user's role"):
        service_account_create(identity=acting_editor, name="x", role=Role.ADMIN)
    account = service_account_create(identity=acting_editor, name="x", role=Role.EDITOR)
    with pytest.raises(RoleCeilingExceeded):
        service_account_update(identity=acting_editor, account=account, role=Role.ADMIN)


def test_rename_keeps_the_login_and_rejects_taken_names(acting_admin, org):
    first = service_account_create(identity=acting_admin, name="first")
    service_account_create(identity=acting_admin, name="second")
    service_account_update(identity=acting_admin, account=first, name="renamed")
    first.refresh_from_db()
    assert (first.name, first.login) == ("renamed", f"sa-{org.pk}-first")
    with pytest.raises(Conflict):
        service_account_update(identity=acting_admin, account=first, name="Second")
    # A refused update changes nothing, not even the other fields sent along.
    with pytest.raises(Conflict):
        service_account_update(identity=acting_admin, account=first, name="second", role=Role.ADMIN)
    first.refresh_from_db()
    assert (first.name, first.role) == ("renamed", Role.VIEWER)


def test_renaming_to_a_different_case_of_its_own_name_is_allowed(acting_admin):
    account = service_account_create(identity=acting_admin, name="ci bot")
    service_account_update(identity=acting_admin, account=account, name="CI Bot")
    assert ServiceAccount.objects.get(pk=account.pk).name == "CI Bot"


def test_delete_removes_the_tokens_too(acting_admin):
    account = service_account_create(identity=acting_admin, name="doomed")
    ServiceAccountToken.objects.create(service_account=account, name="t", digest="a" * 64)
    service_account_delete(identity=acting_admin, account=account)
    assert not ServiceAccount.objects.filter(pk=account.pk).exists()
    assert not ServiceAccountToken.objects.exists()
