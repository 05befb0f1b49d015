from django.urls import path

from tokens import views

urlpatterns = [
    path("org/serviceaccounts/<str:sa_id>/tokens/new", views.token_add, name="token-add"),
    path(
        "org/serviceaccounts/<str:sa_id>/tokens/<str:token_id>/delete",
        views.token_delete_view,
        name="token-delete",
    ),
]
