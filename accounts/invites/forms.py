from __future__ import annotations

from typing import Any

from django import forms

from accounts.forms import check_new_user_fields, new_password_field, offer_roles
from accounts.models import User
from accounts.roles import Role


class InviteForm(forms.Form):
    """Grafana's "Invite user": an e-mail address (or an existing user's login), a name and
    a role."""

    login_or_email = forms.CharField(
        label="Email or username",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    name = forms.CharField(label="Name (optional)", max_length=190, required=False)
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        # Its ids must differ from those of "Add user", which shares the page and field names.
        kwargs.setdefault("auto_id", "invite_%s")
        super().__init__(*args, **kwargs)
        offer_roles(self, roles)


class NewAccountForm(forms.Form):
    """The invitee's new account: its e-mail address is the invited one."""

    login = forms.CharField(
        label="Username",
        max_length=User.LOGIN_MAX_LENGTH,
        required=False,
        help_text="Leave it empty to log in with your e-mail address.",
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    name = forms.CharField(
        label="Name",
        max_length=190,
        required=False,
        widget=forms.TextInput({"autocomplete": "name"}),
    )
    password1 = new_password_field()
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        check_new_user_fields(
            self, email=self.email, password=first, fields={"password": "password1"}
        )
        return data


class SignInToAcceptForm(forms.Form):
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "current-password"}),
    )
