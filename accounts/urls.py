from django.urls import include, path

from accounts import member_views, views
from accounts import serviceaccount_views as sa_views
from accounts.audit import views as audit_views
from accounts.invites import views as invite_views
from accounts.passwords import views as password_views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile", views.profile, name="profile"),
    path("profile/switch-org", views.switch_org_view, name="switch-org"),
    path("org/users", member_views.org_users, name="org-users"),
    path("org/users/add", member_views.org_user_add, name="org-user-add"),
    path("org/users/<str:user_id>/role", member_views.org_user_role, name="org-user-role"),
    path("org/users/<str:user_id>/remove", member_views.org_user_remove, name="org-user-remove"),
    path("org/users/invite", member_views.org_invite_create, name="org-invite-create"),
    path(
        "org/users/invites/<str:code>/revoke",
        member_views.org_invite_revoke,
        name="org-invite-revoke",
    ),
    path("invite/accept", invite_views.invite_accept, name="invite-accept"),
    path("invite/<str:secret>", invite_views.invite_open, name="invite-open"),
    path("login/forgot", password_views.ForgotPasswordView.as_view(), name="password-reset"),
    path("login/forgot/sent", password_views.ResetSentView.as_view(), name="password-reset-done"),
    path(
        "login/reset/<uidb64>/<token>",
        password_views.ChoosePasswordView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "login/reset/done",
        password_views.ResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("", include("accounts.teams.urls")),
    path("org/audit", audit_views.audit_log, name="audit-log"),
    path("org/serviceaccounts", sa_views.service_account_list, name="serviceaccounts"),
    path(
        "org/serviceaccounts/create",
        sa_views.service_account_create_view,
        name="serviceaccount-create",
    ),
    path("org/serviceaccounts/<str:sa_id>", sa_views.service_account_detail, name="serviceaccount"),
    path(
        "org/serviceaccounts/<str:sa_id>/name",
        sa_views.service_account_name,
        name="serviceaccount-name",
    ),
    path(
        "org/serviceaccounts/<str:sa_id>/role",
        sa_views.service_account_role,
        name="serviceaccount-role",
    ),
    path(
        "org/serviceaccounts/<str:sa_id>/disable",
        sa_views.service_account_disable,
        name="serviceaccount-disable",
    ),
    path(
        "org/serviceaccounts/<str:sa_id>/enable",
        sa_views.service_account_enable,
        name="serviceaccount-enable",
    ),
    path(
        "org/serviceaccounts/<str:sa_id>/delete",
        sa_views.service_account_delete_view,
        name="serviceaccount-delete",
    ),
]
