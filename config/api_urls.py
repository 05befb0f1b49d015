"""Every JSON endpoint, at Grafana's paths. Kept in one list so the OpenAPI test can walk it.

Fixed paths under ``serviceaccounts/`` and ``teams/`` come before ``…/<id>``.
"""

from django.urls import path

from accounts import api as accounts_api
from accounts import verification
from accounts.audit import api as audit_api
from accounts.invites import api as invites_api
from accounts.teams import api as teams_api
from apikeys import api as apikeys_api
from tokens import api as tokens_api

urlpatterns = [
    # First: reverse proxies call it on every request of the APIs they guard.
    path("auth/verify", verification.verify, name="api-auth-verify"),
    path("health", accounts_api.health, name="api-health"),
    path("openapi.json", accounts_api.openapi, name="api-openapi"),
    path("org", accounts_api.current_org, name="api-org"),
    path("org/", accounts_api.current_org),
    path("org/invites", invites_api.invites, name="api-org-invites"),
    path(
        "org/invites/<str:code>/revoke",
        invites_api.invite_revoke_view,
        name="api-org-invite-revoke",
    ),
    path("org/users", accounts_api.org_users, name="api-org-members"),
    path("org/users/<str:user_id>", accounts_api.org_user, name="api-org-member"),
    path("user", accounts_api.current_user, name="api-user"),
    path("orgs", accounts_api.orgs, name="api-orgs"),
    path("orgs/<str:org_id>", accounts_api.org_detail, name="api-org-detail"),
    path("orgs/<str:org_id>/users", accounts_api.org_add_user, name="api-org-users"),
    path("admin/users", accounts_api.admin_create_user, name="api-admin-users"),
    path("auth/introspect", verification.introspect, name="api-auth-introspect"),
    path(
        "admin/users/<str:user_id>/disable",
        accounts_api.admin_disable_user,
        name="api-admin-user-disable",
    ),
    path(
        "admin/users/<str:user_id>/enable",
        accounts_api.admin_enable_user,
        name="api-admin-user-enable",
    ),
    path(
        "admin/users/<str:user_id>/permissions",
        accounts_api.admin_user_permissions,
        name="api-admin-user-permissions",
    ),
    path("admin/grants", accounts_api.admin_grants, name="api-admin-grants"),
    path("admin/grants/<str:permission>", accounts_api.admin_grant, name="api-admin-grant"),
    path("audit", audit_api.audit_events, name="api-audit"),
    path("auth/leaked", apikeys_api.leaked, name="api-leaked"),
    path("auth/keys", apikeys_api.keys, name="api-keys"),
    path("auth/keys/<str:key_id>", apikeys_api.key_detail, name="api-key"),
    path(
        "serviceaccounts/search",
        accounts_api.service_account_search,
        name="api-serviceaccounts-search",
    ),
    path("serviceaccounts/migrate", apikeys_api.migrate_all, name="api-migrate"),
    path("serviceaccounts/migrate/<str:key_id>", apikeys_api.migrate_one, name="api-migrate-one"),
    path(
        "serviceaccounts/migrationstatus",
        apikeys_api.migration_status,
        name="api-migration-status",
    ),
    path("serviceaccounts/hideApiKeys", apikeys_api.hide, name="api-hide-keys"),
    path("serviceaccounts", accounts_api.service_account_create_view, name="api-serviceaccounts"),
    path("serviceaccounts/", accounts_api.service_account_create_view),
    path(
        "serviceaccounts/<str:sa_id>",
        accounts_api.service_account_detail,
        name="api-serviceaccount",
    ),
    path(
        "serviceaccounts/<str:sa_id>/permissions",
        teams_api.service_account_permissions,
        name="api-serviceaccount-permissions",
    ),
    path("serviceaccounts/<str:sa_id>/tokens", tokens_api.tokens, name="api-tokens"),
    path(
        "serviceaccounts/<str:sa_id>/tokens/<str:token_id>",
        tokens_api.token_detail,
        name="api-token",
    ),
    path(
        "serviceaccounts/<str:sa_id>/tokens/<str:token_id>/revoke",
        tokens_api.token_revoke_view,
        name="api-token-revoke",
    ),
    path(
        "serviceaccounts/<str:sa_id>/tokens/<str:token_id>/rotate",
        tokens_api.token_rotate_view,
        name="api-token-rotate",
    ),
    path("teams", teams_api.teams, name="api-teams"),
    path("teams/search", teams_api.team_search, name="api-teams-search"),
    path("teams/<str:team_id>", teams_api.team_detail, name="api-team"),
    path("teams/<str:team_id>/members", teams_api.members, name="api-team-members"),
    path(
        "teams/<str:team_id>/members/<str:user_id>",
        teams_api.member_user,
        name="api-team-member",
    ),
    path(
        "teams/<str:team_id>/serviceaccounts/<str:sa_id>",
        teams_api.member_service_account,
        name="api-team-serviceaccount",
    ),
    path(
        "teams/<str:team_id>/permissions", teams_api.team_permissions, name="api-team-permissions"
    ),
    path("permissions", teams_api.permissions, name="api-permissions"),
    path("permissions/<str:name>", teams_api.permission_detail, name="api-permission"),
]
