from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from accounts.models import Membership, Organization, ServerGrant, Team, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class KeyhouseUserAdmin(UserAdmin):
    inlines = [MembershipInline]
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Keyhouse", {"fields": ("name", "current_org")}))


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created_at", "api_keys_migrated_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def save_model(
        self, request: HttpRequest, obj: Organization, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if not change:  # like accounts.services.org_create: every org has its Everyone team
            Team.objects.create_everyone(obj)


@admin.register(ServerGrant)
class ServerGrantAdmin(admin.ModelAdmin):
    """Where a server admin gives ``tokens:report-leak`` to a secret scanner's account."""

    list_display = ["permission", "service_account", "created_at"]
    raw_id_fields = ["service_account"]
