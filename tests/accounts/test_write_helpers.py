"""The write idiom every service shares: save_unique, NamedModel's name_key, and refusals that
carry their message one way."""

import pytest
from django.core.exceptions import ValidationError
from django.db import models, transaction

from accounts.errors import Conflict, NotFound, Refusal, RoleCeilingExceeded, message_of
from accounts.models import Membership, Organization, ServiceAccount
from accounts.names import name_key
from accounts.roles import Role
from accounts.services import save_unique
from apikeys.services import ApiKeysMigrated

pytestmark = pytest.mark.django_db


class TestSaveUnique:
    def test_saves_what_is_free(self, org):
        account = ServiceAccount(org=org, name="Free", login="sa-free")
        save_unique(account, conflict="taken")
        assert ServiceAccount.objects.get(pk=account.pk).name_key == "free"

    def test_refuses_a_taken_name_before_writing(self, org, django_assert_num_queries):
        ServiceAccount.objects.create(org=org, name="Robot", login="sa-robot")
        clash = ServiceAccount(org=org, name="ROBOT", login="sa-other")
        with django_assert_num_queries(1), pytest.raises(Conflict, match=r"^taken$"):
            save_unique(clash, conflict="taken")  # the (org, name) check finds it: no INSERT
        assert ServiceAccount.objects.count() == 1

    def test_a_clash_on_one_field_can_have_its_own_message(self, org):
        ServiceAccount.objects.create(org=org, name="a b", login="sa-a-b")
        clash = ServiceAccount(org=org, name="a  b", login="sa-a-b")
        with pytest.raises(Conflict, match=r"^the login$"):
            save_unique(clash, conflict="the name", field_conflicts={"login": "the login"})
        same_name = ServiceAccount(org=org, name="A B", login="sa-a-b")
        with pytest.raises(Conflict, match=r"^the name$"):
            save_unique(same_name, conflict="the name", field_conflicts={"login": "the login"})

    def test_a_race_past_the_check_is_a_conflict_and_the_transaction_goes_on(
        self, org, admin, monkeypatch
    ):
        Membership.objects.filter(org=org, user=admin).delete()
        Membership.objects.create(org=org, user=admin, role=Role.ADMIN)
        # Another request inserts between our check and our write: the check sees nothing.
        monkeypatch.setattr(models.Model, "validate_constraints", lambda self: None)
        with transaction.atomic():
            with pytest.raises(Conflict, match="member"):
                save_unique(Membership(org=org, user=admin), conflict="already a member")
            # The savepoint kept the outer transaction usable (PostgreSQL would refuse
            # every further statement otherwise).
            assert Membership.objects.filter(org=org, user=admin).count() == 1

    def test_updates_check_everyone_but_the_object_itself(self, org):
        account = ServiceAccount.objects.create(org=org, name="Robot", login="sa-robot")
        account.name = "ROBOT"
        save_unique(account, conflict="taken", update_fields=["name"])
        assert ServiceAccount.objects.get(pk=account.pk).name == "ROBOT"


class TestNamedModel:
    def test_save_with_update_fields_keeps_the_key_in_step(self, org):
        account = ServiceAccount.objects.create(org=org, name="Robot", login="sa-robot")
        account.name = "Überwachung"
        account.save(update_fields=["name"])
        stored = ServiceAccount.objects.values("name", "name_key").get(pk=account.pk)
        assert stored == {"name": "Überwachung", "name_key": name_key("Überwachung")}

    def test_saving_other_fields_leaves_the_name_alone(self, org):
        account = ServiceAccount.objects.create(org=org, name="Robot", login="sa-robot")
        ServiceAccount.objects.filter(pk=account.pk).update(name="Renamed elsewhere")
        account.role = Role.EDITOR
        account.save(update_fields=["role"])
        stored = ServiceAccount.objects.values("name", "name_key", "role").get(pk=account.pk)
        assert stored == {"name": "Renamed elsewhere", "name_key": "robot", "role": "Editor"}

    def test_clean_derives_the_key_before_validation(self):
        org = Organization(name=" \uff27lobex ")
        org.clean()
        assert org.name_key == "globex"


class TestRefusals:
    @pytest.mark.parametrize(
        ("refusal", "status", "message"),
        [
            (Conflict("name taken"), 409, "name taken"),
            (NotFound(), 404, "Not found"),
            (RoleCeilingExceeded(), 403, "Cannot assign a role higher than user's role"),
            (ApiKeysMigrated(), 410, ApiKeysMigrated.default_message),
        ],
    )
    def test_every_refusal_carries_its_message_and_status(self, refusal, status, message):
        assert isinstance(refusal, Refusal)
        assert (refusal.status, refusal.message, str(refusal)) == (status, message, message)
        assert message_of(refusal) == message

    def test_validation_errors_read_the_same_way(self):
        assert message_of(ValidationError(["Too short.", "Too common."])) == (
            "Too short. Too common."
        )
