from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.audit.services import record_sign_in
from accounts.models import Organization, ServiceAccount, User
from accounts.roles import Role
from accounts.services import check_new_user

LOCKED_OUT_MESSAGE = "Too many failed login attempts. Wait a few minutes and try again."
LOGIN_TAKEN = "A user with this login already exists."
EMAIL_TAKEN = "A user with this e-mail address already exists."


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
        login = self.cleaned_data.get("username") or ""
        try:
            cleaned = super().clean()
        except ValidationError:
            locked_out = getattr(self.request, "axes_locked_out", False)
            if login and self.request is not None:
                outcome = "lockout" if locked_out else "failure"
                record_sign_in(self.request, login=login, outcome=outcome, via="login page")
            if locked_out:
                raise ValidationError(LOCKED_OUT_MESSAGE, code="locked_out") from None
            raise
        if login and self.request is not None:
            user = self.get_user()
            record_sign_in(
                self.request, login=login, user=user, outcome="success", via="login page"
            )
        return cleaned


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Change password, with the current password checked like a sign-in: wrong guesses count
    toward the same lock, so a borrowed session is no way to guess the password unthrottled."""

    def __init__(self, user: User, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        user = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if getattr(self.request, "axes_locked_out", False):
            raise ValidationError(LOCKED_OUT_MESSAGE, code="locked_out")
        if user is None or user.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class SwitchOrgForm(forms.Form):
    org = forms.ModelChoiceField(queryset=Organization.objects.none(), label="Organization")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        from accounts.access import orgs_for_user

        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["org"])
        self.orgs = field.queryset = orgs_for_user(user)
        field.empty_label = None
        field.initial = user.current_org_id
        field.error_messages["invalid_choice"] = "You are not a member of that organization."

    @property
    def has_choice(self) -> bool:
        """Whether there is another organization to switch to."""
        return self.orgs.count() > 1


def new_password_field(label: str = "Password") -> forms.CharField:
    """A password being chosen, with the rules it must meet (Django's validators) as its help,
    as on the profile's password change."""
    return forms.CharField(
        label=label,
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )


def check_new_user_fields(
    form: forms.Form, *, email: str, password: str | None, fields: Mapping[str, str] | None = None
) -> None:
    """Run the checks of a new user's account (``check_new_user``) on the form's data and give
    each field in error its own message at once; ``fields`` renames the service's fields to
    the form's. A field that already failed keeps its first error."""
    data = form.cleaned_data
    login, email = (data.get("login") or "").strip(), email.strip()
    found: dict[str, Any] = {}
    try:
        check_new_user(login=login, email=email, name=data.get("name") or "", password=password)
    except ValidationError as exc:
        found |= exc.error_dict
    # The service refuses a taken login or address too, with one message for both and only
    # once the rest is valid; looked up here, the form names the field among the others.
    if login and User.objects.filter(username__iexact=login).exists():
        found.setdefault("login", [ValidationError(LOGIN_TAKEN)])
    if email and User.objects.filter(email__iexact=email).exists():
        found.setdefault("email", [ValidationError(EMAIL_TAKEN)])
    for name, errors in found.items():
        field = (fields or {}).get(name, name)
        if field in form.fields and field not in form.errors:
            form.add_error(field, errors)


def offer_roles(form: forms.Form, roles: list[Role]) -> None:
    """Limit the form's "role" choices to ``roles``: those the user may hand out."""
    cast(forms.ChoiceField, form.fields["role"]).choices = [(r.value, r.label) for r in roles]


class ServiceAccountForm(forms.Form):
    name = forms.CharField(label="Display name", max_length=ServiceAccount.NAME_MAX_LENGTH)
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_roles(self, roles)


class RenameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=ServiceAccount.NAME_MAX_LENGTH)


class OrgUserAddForm(forms.Form):
    """Grafana's "Add user": an existing user, by login or e-mail, with a role."""

    login_or_email = forms.CharField(
        label="Email or username",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_roles(self, roles)
