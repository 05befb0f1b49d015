from django.urls import path

from accounts import serviceaccount_views as sa_views
from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile", views.profile, name="profile"),
    path("profile/switch-org", views.switch_org_view, name="switch-org"),
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
