from django.urls import path

from accounts.serveradmin import views

urlpatterns = [
    path("admin/orgs", views.org_list, name="admin-orgs"),
    path("admin/orgs/new", views.org_create_view, name="admin-org-create"),
    path("admin/orgs/<str:org_id>", views.org_detail, name="admin-org"),
    path("admin/orgs/<str:org_id>/delete", views.org_delete_view, name="admin-org-delete"),
    path("admin/users", views.user_list, name="admin-users"),
    path("admin/users/new", views.user_create_view, name="admin-user-create"),
    path("admin/users/<str:user_id>", views.user_detail, name="admin-user"),
    path("admin/users/<str:user_id>/disable", views.user_disable, name="admin-user-disable"),
    path("admin/users/<str:user_id>/enable", views.user_enable, name="admin-user-enable"),
    path(
        "admin/users/<str:user_id>/grant-server-admin",
        views.user_grant_admin,
        name="admin-user-grant-admin",
    ),
    path(
        "admin/users/<str:user_id>/revoke-server-admin",
        views.user_revoke_admin,
        name="admin-user-revoke-admin",
    ),
    path(
        "admin/users/<str:user_id>/password-reset",
        views.user_send_reset,
        name="admin-user-password-reset",
    ),
    path("admin/users/<str:user_id>/orgs/add", views.user_org_add, name="admin-user-org-add"),
    path(
        "admin/users/<str:user_id>/orgs/<str:org_id>/role",
        views.user_org_role,
        name="admin-user-org-role",
    ),
    path(
        "admin/users/<str:user_id>/orgs/<str:org_id>/remove",
        views.user_org_remove,
        name="admin-user-org-remove",
    ),
    path("admin/grants", views.grant_list, name="admin-grants"),
    path("admin/grants/<str:permission>/remove", views.grant_remove, name="admin-grant-remove"),
]
