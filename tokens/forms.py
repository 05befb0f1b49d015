from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django import forms

from tokens.models import ServiceAccountToken
from tokens.services import DEFAULT_GRACE, day_limit

NEVER = "never"
ON_DATE = "date"
GRACE_CHOICES = [
    (0, "Immediately"),
    (3600, "1 hour"),
    (86400, "24 hours"),
    (7 * 86400, "7 days"),
]


class ExpiryForm(forms.Form):
    """The expiry part of the token dialog; the expiry rules themselves live in
    ``tokens.services``."""

    expiration = forms.ChoiceField(label="Expiration", widget=forms.RadioSelect)
    expires_on = forms.DateField(
        label="Expiration date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        # The dialog opens over pages with forms of their own: its ids must not clash with
        # theirs, or its labels would name their fields.
        kwargs.setdefault("auto_id", "token_%s")
        super().__init__(*args, **kwargs)
        limit = day_limit()
        choices = [(ON_DATE, "Set expiration date")]
        if limit is None:
            choices.insert(0, (NEVER, "No expiration"))
        field = cast(forms.ChoiceField, self.fields["expiration"])
        field.choices = choices
        field.initial = choices[0][0]
        attrs = self.fields["expires_on"].widget.attrs
        attrs["min"] = (today + timedelta(days=1)).isoformat()
        if limit is not None:
            attrs["max"] = (today + timedelta(days=limit)).isoformat()
            self.fields["expires_on"].initial = today + timedelta(days=limit)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        missing_date = data.get("expiration") == ON_DATE and not data.get("expires_on")
        if missing_date and "expires_on" not in self.errors:
            self.add_error("expires_on", "Choose the date the token expires on.")
        return data

    @property
    def expires_at(self) -> datetime | None:
        """Midnight UTC at the start of the chosen day, or None for no expiration."""
        if self.cleaned_data.get("expiration") != ON_DATE:
            return None
        return datetime.combine(self.cleaned_data["expires_on"], time.min, tzinfo=UTC)


class TokenForm(ExpiryForm):
    name = forms.CharField(label="Display name", max_length=ServiceAccountToken.NAME_MAX_LENGTH)
    field_order = ["name"]


class RotateForm(ExpiryForm):
    """Rotate: the new token's expiry, and how long the old one keeps working."""

    grace = forms.TypedChoiceField(
        label="Keep the old token working for",
        choices=GRACE_CHOICES,
        coerce=lambda seconds: timedelta(seconds=int(seconds)),
        initial=int(DEFAULT_GRACE.total_seconds()),
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, token: ServiceAccountToken, today: date, **kwargs: Any) -> None:
        super().__init__(*args, today=today, **kwargs)
        # Prefilled with the old token's own lifetime, from today (within the day limit).
        if token.expires_at is not None:
            lifetime = max(1, round((token.expires_at - token.created_at) / timedelta(days=1)))
            limit = day_limit()
            self.initial.setdefault("expiration", ON_DATE)
            self.initial.setdefault(
                "expires_on", today + timedelta(days=min(lifetime, limit or lifetime))
            )
