"""Forgot password?: Django's password-reset views, with the throttle and the message of
``accounts.passwords.services``. Every address gets the same answer."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from accounts.network import client_address, public_base_url
from accounts.passwords.services import (
    anonymous,
    client_over_limit,
    note_request,
    send_reset_link,
    users_for,
)

logger = logging.getLogger("keyhouse.auth")

TOO_MANY = "Too many password reset requests from your network. Wait an hour and try again."


@method_decorator(require_http_methods(["GET", "POST"]), name="dispatch")
class ForgotPasswordView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("password-reset-done")

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        client = client_address(self.request)
        if client_over_limit(client):
            form.add_error(None, TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        email = form.cleaned_data["email"]
        if note_request(email, client):
            for user in users_for(email):
                try:
                    send_reset_link(user, public_base_url(self.request), actor=anonymous(client))
                except (OSError, SMTPException) as exc:
                    # Saying so would tell that the address has an account.
                    logger.error("Password reset e-mail failed: %s", type(exc).__name__)
        return HttpResponseRedirect(self.get_success_url())


class ResetSentView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class ChoosePasswordView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")


class ResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
