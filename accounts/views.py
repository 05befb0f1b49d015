from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.access import org_view
from accounts.forms import SwitchOrgForm
from accounts.services import switch_org


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("serviceaccounts")


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    password_form = PasswordChangeForm(request.user)
    if request.method == "POST":
        password_form = PasswordChangeForm(request.user, request.POST)
        if password_form.is_valid():
            user = password_form.save()
            update_session_auth_hash(request, user)
            messages.success(request, "Your password has been changed.")
            return redirect("profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "password_form": password_form,
            "switch_form": SwitchOrgForm(user=request.user),
        },
    )


@login_required
@require_POST
def switch_org_view(request: HttpRequest) -> HttpResponse:
    form = SwitchOrgForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("org", ["Choose an organization."])))
        return redirect("profile")
    org = form.cleaned_data["org"]
    switch_org(user=request.user, org=org)
    messages.success(request, f"Switched to {org.name}.")
    return redirect(_safe_next(request, "home"))


@org_view()
@require_GET
def serviceaccounts(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/serviceaccounts.html", {"nav_active": "serviceaccounts"})
