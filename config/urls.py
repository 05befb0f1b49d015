from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from accounts import api as accounts_api
from accounts import views as accounts_views
from accounts.forms import LoginForm

handler400 = "accounts.error_pages.bad_request"
handler404 = "accounts.error_pages.page_not_found"
handler500 = "accounts.error_pages.server_error"

urlpatterns = [
    path(
        "login",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout", accounts_views.logout_view, name="logout"),
    path("api/", include("config.api_urls")),
    re_path(r"^api/", accounts_api.not_found),
    path("", include("accounts.serveradmin.urls")),
    path("", include("accounts.urls")),
    path("", include("tokens.urls")),
    path("", include("apikeys.urls")),
]

if settings.KEYHOUSE_DJANGO_ADMIN:
    urlpatterns.insert(0, path("django-admin/", admin.site.urls))
