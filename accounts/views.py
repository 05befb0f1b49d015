from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import SignedInRequest, current_identity, has_permission
from accounts.forms import SwitchOrgForm, ThrottledPasswordChangeForm
from accounts.services import switch_org
from accounts.teams.catalogue import SERVICEACCOUNTS_READ, TEAMS_WRITE, USERS_WRITE
from accounts.ui import safe_next_url

# Where home leads: the first of these pages the user may use, else their profile.
HOME_PAGES = (
    (SERVICEACCOUNTS_READ, "serviceaccounts"),
    (TEAMS_WRITE, "teams"),
    (USERS_WRITE, "org-users"),
)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    identity = current_identity(request.user) if request.user.is_authenticated else None
    if identity is None:
        return redirect("serviceaccounts")  # which asks to sign in, or says why not
    for permission, page in HOME_PAGES:
        if has_permission(identity, permission):
            return redirect(page)
    return redirect("profile")


_log_out = LogoutView.as_view()


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponseBase:
    """POST logs out. GET (a typed address, an old bookmark) asks first: logging out on a GET
    would let any page log you out with an image tag."""
    if request.method == "POST":
        return _log_out(request)
    if not request.user.is_authenticated:
        return redirect("login")
    return render(request, "accounts/logout.html")


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def profile(request: SignedInRequest) -> HttpResponse:
    password_form = ThrottledPasswordChangeForm(request.user, request=request)
    if request.method == "POST":
        password_form = ThrottledPasswordChangeForm(request.user, request.POST, request=request)
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
def switch_org_view(request: SignedInRequest) -> HttpResponse:
    form = SwitchOrgForm(request.POST, user=request.user)
    if not form.is_valid():
        errors = form.errors.get("org") or ["Choose an organization."]
        messages.error(request, " ".join(str(error) for error in errors))
        return redirect("profile")
    org = form.cleaned_data["org"]
    switch_org(user=request.user, org=org)
    messages.success(request, f"Switched to {org.name}.")
    return redirect(safe_next_url(request, reverse("home")))
