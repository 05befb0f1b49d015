from django.urls import path

from accounts.teams import account_views, catalogue_views, views

urlpatterns = [
    path("org/teams", views.team_list, name="teams"),
    path("org/teams/new", views.team_create_view, name="team-create"),
    path("org/teams/<str:team_id>", views.team_detail, name="team"),
    path("org/teams/<str:team_id>/settings", views.team_settings, name="team-settings"),
    path("org/teams/<str:team_id>/delete", views.team_delete_view, name="team-delete"),
    path("org/teams/<str:team_id>/members/add", views.team_member_add_view, name="team-member-add"),
    path(
        "org/teams/<str:team_id>/members/users/<str:user_id>/remove",
        views.team_member_user_remove,
        name="team-member-user-remove",
    ),
    path(
        "org/teams/<str:team_id>/members/serviceaccounts/<str:sa_id>/remove",
        views.team_member_sa_remove,
        name="team-member-sa-remove",
    ),
    path("org/teams/<str:team_id>/permissions", views.team_permissions, name="team-permissions"),
    path("org/permissions", catalogue_views.permission_list, name="permissions"),
    path("org/permissions/new", catalogue_views.permission_create_view, name="permission-create"),
    path(
        "org/permissions/<str:name>/delete",
        catalogue_views.permission_delete_view,
        name="permission-delete",
    ),
    path(
        "org/serviceaccounts/<str:sa_id>/teams/add",
        account_views.service_account_team_add,
        name="serviceaccount-team-add",
    ),
    path(
        "org/serviceaccounts/<str:sa_id>/permissions",
        account_views.service_account_permissions,
        name="serviceaccount-permissions",
    ),
]
