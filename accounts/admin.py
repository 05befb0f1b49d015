"""Django's admin site, only when ``KEYHOUSE_DJANGO_ADMIN`` turns it on (at /django-admin/).

Keyhouse's own pages are where orgs, users and their rules live (the last Admin, the role
ceiling, the API-keys migration state, one holder per server grant): here those models are
read-only, so the admin site can show them but never bypass the rules or the audit log."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import (
    Invite,
    Membership,
    Organization,
    ServerGrant,
    ServiceAccount,
    Team,
    User,
)


class ReadOnly:
    """Look, don't touch."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class MembershipInline(ReadOnly, admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class KeyhouseUserAdmin(ReadOnly, UserAdmin):
    inlines = [MembershipInline]
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Keyhouse", {"fields": ("name", "current_org")}))


@admin.register(Organization)
class OrganizationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "name", "created_at", "api_keys_migrated_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(ServiceAccount)
class ServiceAccountAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "name", "login", "org", "role", "is_disabled"]
    search_fields = ["name", "login"]


@admin.register(Team)
class TeamAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "name", "org", "is_everyone"]


@admin.register(Invite)
class InviteAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "email", "org", "role", "created_at", "expires_at", "accepted_at"]
    exclude = ["digest"]


@admin.register(ServerGrant)
class ServerGrantAdmin(ReadOnly, admin.ModelAdmin):
    """Given and removed in Server admin → Server grants (or ``/api/admin/grants``)."""

    list_display = ["permission", "service_account", "created_at"]
    raw_id_fields = ["service_account"]
