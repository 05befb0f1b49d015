from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.forms import offer_roles
from accounts.models import Organization, User
from accounts.roles import Role


class OrgNameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=190)


class UserCreateForm(forms.Form):
    login = forms.CharField(label="Username", max_length=User.LOGIN_MAX_LENGTH, required=False)
    email = forms.CharField(label="Email", max_length=254, required=False)
    name = forms.CharField(label="Name", max_length=190, required=False)
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput({"autocomplete": "new-password"})
    )


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
