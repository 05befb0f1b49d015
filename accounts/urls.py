from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile", views.profile, name="profile"),
    path("profile/switch-org", views.switch_org_view, name="switch-org"),
]
urlpatterns += [path("org/serviceaccounts", views.serviceaccounts, name="serviceaccounts")]
