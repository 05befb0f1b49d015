"""Grafana-compatible identity and server-admin endpoints (DESIGN §6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.access import (
    READ_ORG_USERS,
    AppRequest,
    get_member,
    get_or_404,
    get_org,
    get_service_account,
    require_permission,
    require_server_admin,
    require_user_identity,
)
from accounts.api_base import (
    ApiError,
    api_view,
    error_response,
    field,
    paged,
    parse_json_object,
    role_field,
    with_api_headers,
)
from accounts.listing import ListingQuery
from accounts.models import (
    Membership,
    Organization,
    ServiceAccount,
    User,
    isoformat,
)
from accounts.names import name_key
from accounts.roles import Role
from accounts.services import (
    MAX_SECONDS_TO_LIVE,
    USER_NOT_FOUND,
    find_user,
    membership_add,
    membership_remove,
    membership_update,
    org_create,
    org_delete,
    org_rename,
    service_account_create,
    service_account_delete,
    service_account_update,
    user_create,
    user_set_disabled,
    user_set_server_admin,
)
from accounts.teams.catalogue import (
    SERVICEACCOUNTS_READ,
    SERVICEACCOUNTS_WRITE,
    USERS_WRITE,
)
from accounts.teams.models import ServerGrant
from accounts.teams.services import server_grant_give, server_grant_remove


@api_view(["GET"], authenticated=False)
def health(request: AppRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError:
        database = "failing"
    return JsonResponse(
        {"database": database, "version": settings.KEYHOUSE_VERSION},
        status=200 if database == "ok" else 503,
    )


@api_view(["GET"])
def current_org(request: AppRequest) -> JsonResponse:
    return JsonResponse(request.identity.org.to_api())


@api_view(["GET"])
def current_user(request: AppRequest) -> JsonResponse:
    identity = request.identity
    if identity.user is None:
        raise ApiError(403, "Only users have a user profile; this credential is not a user")
    return JsonResponse(identity.user.to_api(identity.org))


@api_view(["GET", "POST"])
def orgs(request: AppRequest) -> JsonResponse:
    require_server_admin(request.identity)
    if request.method == "POST":
        data = parse_json_object(request)
        name = field(data, "name", str, required=True)
        org = org_create(name=name, creator=request.identity.user, actor=request.identity)
        return JsonResponse({"orgId": org.pk, "message": "Organization created"})
    queryset = Organization.objects.all()
    query = request.GET.get("query", "").replace("\x00", "").strip()
    if query:
        queryset = queryset.filter(name_key__contains=name_key(query))
    return JsonResponse([{"id": org.pk, "name": org.name} for org in queryset], safe=False)


@api_view(["GET", "PUT", "DELETE"])
def org_detail(request: AppRequest, org_id: str) -> JsonResponse:
    """Grafana's ``/api/orgs/<id>``: read, rename (``{"name"}``) or delete an org."""
    require_server_admin(request.identity)
    org = get_org(request.identity, org_id)
    if request.method == "PUT":
        name = field(parse_json_object(request), "name", str, required=True)
        org_rename(actor=request.identity, org=org, name=name)
        return JsonResponse({"message": "Organization updated"})
    if request.method == "DELETE":
        org_delete(actor=request.identity, org=org)
        return JsonResponse({"message": "Organization deleted"})
    return JsonResponse(org.to_api())


def _admin_user(request: AppRequest, user_id: str) -> User:
    require_server_admin(request.identity)
    return get_or_404(User.objects.all(), user_id, USER_NOT_FOUND)


@api_view(["POST"])
def admin_disable_user(request: AppRequest, user_id: str) -> JsonResponse:
    user = _admin_user(request, user_id)
    user_set_disabled(actor=request.identity, user=user, disabled=True)
    return JsonResponse({"message": "User disabled"})


@api_view(["POST"])
def admin_enable_user(request: AppRequest, user_id: str) -> JsonResponse:
    user = _admin_user(request, user_id)
    user_set_disabled(actor=request.identity, user=user, disabled=False)
    return JsonResponse({"message": "User enabled"})


@api_view(["PUT"])
def admin_user_permissions(request: AppRequest, user_id: str) -> JsonResponse:
    """``{"isGrafanaAdmin": bool}`` grants or revokes server admin."""
    user = _admin_user(request, user_id)
    grant = field(parse_json_object(request), "isGrafanaAdmin", bool, required=True)
    user_set_server_admin(actor=request.identity, user=user, is_server_admin=grant)
    return JsonResponse({"message": "User permissions updated"})


@api_view(["POST"])
def admin_create_user(request: AppRequest) -> JsonResponse:
    require_server_admin(request.identity)
    data = parse_json_object(request)
    org_id = field(data, "OrgId", int)
    org = get_org(request.identity, org_id) if org_id is not None else None
    user = user_create(
        login=field(data, "login", str, default=""),
        email=field(data, "email", str, default=""),
        name=field(data, "name", str, default=""),
        password=field(data, "password", str, required=True),
        org=org,
        actor=request.identity,
    )
    return JsonResponse({"id": user.pk, "message": "User created"})


@api_view(["GET"])
def admin_grants(request: AppRequest) -> JsonResponse:
    """The server grants given, one per permission at most."""
    require_server_admin(request.identity)
    grants = ServerGrant.objects.select_related("service_account__org").order_by("permission")
    return JsonResponse([grant.to_api() for grant in grants], safe=False)


@api_view(["PUT", "DELETE"])
def admin_grant(request: AppRequest, permission: str) -> JsonResponse:
    """``PUT {"serviceAccountId"}`` gives the server permission to that account (of any org),
    in place of its holder; ``DELETE`` takes it away."""
    identity = request.identity
    require_server_admin(identity)
    if request.method == "DELETE":
        server_grant_remove(actor=identity, permission=permission)
        return JsonResponse({"message": "Server grant removed"})
    account_id = field(parse_json_object(request), "serviceAccountId", int, required=True)
    if account_id < 1:
        raise ApiError(400, "Bad request data: serviceAccountId must be a positive id")
    account = get_or_404(ServiceAccount.objects.all(), account_id, "Service account not found")
    grant = server_grant_give(actor=identity, permission=permission, account=account)
    return JsonResponse({"message": "Server grant given", **grant.to_api()})


@api_view(["POST"])
def org_add_user(request: AppRequest, org_id: str) -> JsonResponse:
    identity = request.identity
    org = get_org(identity, org_id)
    require_permission(identity, USERS_WRITE)
    return _add_member(request, org)


def _add_member(request: AppRequest, org: Organization) -> JsonResponse:
    """``{loginOrEmail, role}``: an existing user joins ``org``. Only people may do this."""
    identity = request.identity
    require_user_identity(identity)
    data = parse_json_object(request)
    login = field(data, "loginOrEmail", str, required=True)
    role = role_field(data)
    user = find_user(login)
    membership_add(identity=identity, org=org, user=user, role=role)
    return JsonResponse({"message": "User added to organization", "userId": user.pk})


# --- Members of the caller's org (Grafana's /api/org/users) ---------------------------------


def member_to_api(membership: Membership) -> dict:
    user = membership.user
    return {
        "orgId": membership.org_id,
        "userId": user.pk,
        "email": user.email,
        "name": user.name,
        "login": user.username,
        "role": membership.role,
        "lastSeenAt": isoformat(user.last_login),
    }


@api_view({"GET": READ_ORG_USERS, "POST": USERS_WRITE})
def org_users(request: AppRequest) -> JsonResponse:
    if request.method == "POST":
        return _add_member(request, request.identity.org)
    members = (
        Membership.objects.filter(org=request.identity.org)
        .select_related("user")
        .order_by("user__username", "pk")
    )
    return JsonResponse([member_to_api(m) for m in members], safe=False)


@api_view({"PATCH": USERS_WRITE, "DELETE": USERS_WRITE})
def org_user(request: AppRequest, user_id: str) -> JsonResponse:
    identity = request.identity
    membership = get_member(identity, user_id)
    if request.method == "DELETE":
        membership_remove(identity=identity, org=identity.org, user=membership.user)
        return JsonResponse({"message": "User removed from organization"})
    role = role_field(parse_json_object(request))
    membership_update(identity=identity, org=identity.org, user=membership.user, role=role)
    return JsonResponse({"message": "Organization user updated"})


# --- Service accounts ---------------------------------------------------------------------


@api_view({"GET": SERVICEACCOUNTS_READ})
def service_account_search(request: AppRequest) -> JsonResponse:
    accounts = ListingQuery(
        org_id=request.identity.org.pk,
        query=request.GET.get("query", ""),
        disabled_only=request.GET.get("disabled") == "true",
        expired_only=request.GET.get("expiredTokens") == "true",
        expiring_only=request.GET.get("expiringTokens") == "true",
    )
    envelope, rows = paged(request, accounts)
    return JsonResponse({**envelope, "serviceAccounts": rows})


@api_view({"POST": SERVICEACCOUNTS_WRITE})
def service_account_create_view(request: AppRequest) -> JsonResponse:
    data = parse_json_object(request)
    name = field(data, "name", str, required=True)
    role = role_field(data, default=Role.VIEWER)
    is_disabled = field(data, "isDisabled", bool, default=False)
    account = service_account_create(
        identity=request.identity, name=name, role=role, is_disabled=is_disabled
    )
    return JsonResponse(account.to_api_profile(), status=201)


@api_view(
    {"GET": SERVICEACCOUNTS_READ, "PATCH": SERVICEACCOUNTS_WRITE, "DELETE": SERVICEACCOUNTS_WRITE}
)
def service_account_detail(request: AppRequest, sa_id: str) -> JsonResponse:
    account = get_service_account(request.identity, sa_id)
    if request.method == "DELETE":
        service_account_delete(identity=request.identity, account=account)
        return JsonResponse({"message": "Service account deleted"})
    if request.method == "PATCH":
        data = parse_json_object(request)
        name = field(data, "name", str)
        role = role_field(data) if data.get("role") is not None else None
        is_disabled = field(data, "isDisabled", bool)
        account = service_account_update(
            identity=request.identity,
            account=account,
            name=name,
            role=role,
            is_disabled=is_disabled,
        )
        profile = account.to_api_profile()
        return JsonResponse(
            {
                "message": "Service account updated",
                "id": account.pk,
                "name": account.name,
                "serviceaccount": profile,
            }
        )
    return JsonResponse(account.to_api_profile())


OPENAPI_PATH = Path(settings.BASE_DIR) / "config" / "openapi.json"


@api_view(["GET"], authenticated=False)
def openapi(request: AppRequest) -> HttpResponse:
    return JsonResponse(openapi_document())


def openapi_document() -> dict[str, Any]:
    """The hand-written OpenAPI 3 description kept beside the URL map, with the version and
    this server's lifetime limits filled in from settings (the file documents the defaults)."""
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_bytes())
    document["info"]["version"] = settings.KEYHOUSE_VERSION
    _apply_lifetime_limits(document["components"]["schemas"])
    return document


def _apply_lifetime_limits(schemas: dict[str, Any]) -> None:
    tokens = schemas["TokenSecondsToLive"]
    day_limit = settings.KEYHOUSE_TOKEN_EXPIRATION_DAY_LIMIT
    if day_limit:
        tokens.update(minimum=1, maximum=day_limit * 86400)
        tokens.pop("default", None)
    key_request = schemas["NewApiKeyRequest"]
    key_limit = settings.KEYHOUSE_API_KEY_MAX_SECONDS_TO_LIVE
    if key_limit == -1:
        key_request["properties"]["secondsToLive"].update(minimum=0, maximum=MAX_SECONDS_TO_LIVE)
        key_request["required"].remove("secondsToLive")
    else:
        key_request["properties"]["secondsToLive"]["maximum"] = key_limit


@csrf_exempt
def not_found(request: AppRequest) -> HttpResponse:
    """Unknown ``/api/…`` paths answer in the API's error shape, not with an HTML page."""
    return with_api_headers(error_response(404, "Not found"))
