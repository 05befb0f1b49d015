"""Forms of the Teams and Permissions pages. They check the shape of the input; the services in
``accounts.teams.services`` decide the rest (names taken, ceilings, Everyone)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.teams.catalogue import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH
from accounts.teams.models import Team


class TeamForm(forms.Form):
    name = forms.CharField(label="Name", max_length=Team.NAME_MAX_LENGTH)
    email = forms.EmailField(
        label="Email (optional)", max_length=Team.EMAIL_MAX_LENGTH, required=False
    )


class PermissionForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX_LENGTH,
        help_text="area:action, for example metrics:ingest or proxies:manage.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(
        label="Description",
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        help_text="What holding it allows, for whoever grants it.",
    )


class PermissionsForm(forms.Form):
    """A checklist's answer: names that must be in the org's catalogue as it is now."""

    permission = forms.MultipleChoiceField(
        required=False,
        error_messages={
            "invalid_choice": "Unknown permission: %(value)s (it may have been deleted)."
        },
    )

    def __init__(self, *args: Any, names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.MultipleChoiceField, self.fields["permission"])
        field.choices = [(name, name) for name in names]
