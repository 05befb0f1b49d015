from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.forms import check_new_user_fields, new_password_field, offer_roles
from accounts.models import Organization, ServiceAccount, User
from accounts.names import name_key
from accounts.roles import Role
from accounts.teams.catalogue import SERVER_PERMISSIONS


class OrgNameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=190)


class UserCreateForm(forms.Form):
    login = forms.CharField(label="Username", max_length=User.LOGIN_MAX_LENGTH, required=False)
    email = forms.CharField(label="Email", max_length=254, required=False)
    name = forms.CharField(label="Name", max_length=190, required=False)
    password = new_password_field()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_new_user_fields(self, email=data.get("email") or "", password=data.get("password"))
        return data


class UserEditForm(forms.Form):
    name = forms.CharField(label="Name", max_length=190, required=False)
    email = forms.CharField(label="Email", max_length=254, required=False)


class AddToOrgForm(forms.Form):
    org = forms.ModelChoiceField(queryset=Organization.objects.none(), label="Organization")
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["org"])
        field.queryset = Organization.objects.exclude(memberships__user=user)
        offer_roles(self, list(Role))


class ServerGrantForm(forms.Form):
    """Whom to give a server permission: a service account named in its org."""

    permission = forms.ChoiceField(
        label="Permission", choices=[(name, name) for name in SERVER_PERMISSIONS]
    )
    org = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name_key", "pk"), label="Organization"
    )
    account = forms.CharField(
        label="Service account",
        max_length=ServiceAccount.NAME_MAX_LENGTH,
        help_text="Its name, as its organization's Service accounts page shows it.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        org, name = data.get("org"), data.get("account")
        if org is not None and name:
            found = ServiceAccount.objects.filter(org=org, name_key=name_key(name)).first()
            if found is None:
                self.add_error("account", f"{org.name} has no service account named '{name}'.")
            data["service_account"] = found
        return data
