from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.forms import offer_roles
from accounts.roles import Role
from apikeys.models import ApiKey
from apikeys.services import parse_ttl


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Key name", max_length=ApiKey.NAME_MAX_LENGTH)
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)
    ttl = forms.CharField(
        label="Time to live",
        required=False,
        initial="1d",
        help_text="For example 30s, 15m, 12h, 7d, 2w or 1M.",
    )

    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_roles(self, roles)

    def clean_ttl(self) -> int:
        try:
            return parse_ttl(self.cleaned_data["ttl"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
