from django.urls import path

from apikeys import views

urlpatterns = [
    path("org/apikeys", views.api_keys, name="apikeys"),
    path("org/apikeys/new", views.api_key_new, name="apikey-new"),
    path("org/apikeys/migrate", views.migrate_all, name="apikeys-migrate"),
    path("org/apikeys/hide", views.hide_view, name="apikeys-hide"),
    path("org/apikeys/<str:key_id>/delete", views.api_key_delete_view, name="apikey-delete"),
    path("org/apikeys/<str:key_id>/migrate", views.api_key_migrate_one, name="apikey-migrate"),
]
