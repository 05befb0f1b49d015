"""Messages to people (invitations, password resets): plain text, with a short HTML
alternative that says the same, like ``tokens.emails``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def message(template: str, context: dict[str, Any], to: Sequence[str]) -> EmailMultiAlternatives:
    """``<template>_subject.txt``, ``<template>.txt`` and ``<template>.html`` rendered."""
    subject = render_to_string(f"{template}_subject.txt", context)
    mail = EmailMultiAlternatives(
        subject=settings.EMAIL_SUBJECT_PREFIX + " ".join(subject.split()),
        body=render_to_string(f"{template}.txt", context),
        to=list(to),
    )
    mail.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return mail
