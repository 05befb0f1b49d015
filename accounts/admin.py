from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Membership, Organization, User


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
