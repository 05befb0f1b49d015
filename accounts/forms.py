from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts.models import Organization, ServiceAccount, User
from accounts.roles import Role

LOCKED_OUT_MESSAGE = "Too many failed login attempts. Wait a few minutes and try again."


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label="Email or username",
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        "invalid_login": "Invalid username or password.",
        "inactive": "Invalid username or password.",
    }

    def clean(self) -> dict:
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "axes_locked_out", False):
                raise ValidationError(LOCKED_OUT_MESSAGE, code="locked_out") from None
            raise


class SwitchOrgForm(forms.Form):
    org = forms.ModelChoiceField(queryset=Organization.objects.none(), label="Organization")

    def __init__(self, *args, user: User, **kwargs) -> None:
        from accounts.access import orgs_for_user

        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs_for_user(user)
        self.fields["org"].error_messages["invalid_choice"] = (
            "You are not a member of that organization."
        )


class ServiceAccountForm(forms.Form):
    name = forms.CharField(label="Display name", max_length=ServiceAccount.NAME_MAX_LENGTH)
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args, roles: list[Role], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label) for role in roles]


class RenameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=ServiceAccount.NAME_MAX_LENGTH)
