from django.urls import path

from tokens import views

ONE = "org/serviceaccounts/<str:sa_id>/tokens/<str:token_id>"  # one token's own pages

urlpatterns = [
    path("org/serviceaccounts/<str:sa_id>/tokens/new", views.token_add, name="token-add"),
    path(f"{ONE}/name", views.token_rename_view, name="token-name"),
    path(f"{ONE}/rotate", views.token_rotate_view, name="token-rotate"),
    path(f"{ONE}/revoke", views.token_revoke_view, name="token-revoke"),
    path(f"{ONE}/delete", views.token_delete_view, name="token-delete"),
]
