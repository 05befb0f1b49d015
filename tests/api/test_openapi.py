"""config/openapi.json against the real URL map and the real responses.

The document is hand-written, so these tests are what keeps it honest: every documented
operation must exist, every /api URL must be documented, and the bodies the views return must
match the documented schemas.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

import config.api_urls
import config.urls
from accounts import api as accounts_api
from accounts.invites.services import invite_create
from accounts.models import Team
from accounts.roles import Role
from accounts.services import service_account_create
from accounts.teams.services import permission_create, team_create
from apikeys.services import api_key_create
from tests.helpers import PASSWORD, basic_auth, call, make_user
from tokens.services import token_create

OPENAPI = json.loads((Path(settings.BASE_DIR) / "config" / "openapi.json").read_text())
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Methods probed for 405 on undocumented operations (HEAD/OPTIONS are not served either, but
# Grafana clients never send them, so they are left out of the check).
PROBED_METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = [
    (path, method)
    for path, item in OPENAPI["paths"].items()
    for method in HTTP_METHODS
    if method in item
]


def normalise(path: str) -> str:
    """``/api/a/{x}/b/`` and ``/api/a/{y}/b`` are the same path."""
    path = re.sub(r"\{[^}]*\}", "{}", path)
    return path.rstrip("/") or "/"


def example_url(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "1", path)


def _pattern_text(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<[^>]+>", "{}", str(pattern))
    if isinstance(pattern, RegexPattern):
        text = str(pattern).removeprefix("^").removesuffix("$").removesuffix(r"\Z")
        return re.sub(r"\(\?P<\w+>[^)]*\)", "{}", text)
    raise TypeError(f"unknown URL pattern type {type(pattern).__name__}")


def api_prefix() -> str:
    """Where config.urls mounts config.api_urls (``/api/``)."""
    for entry in config.urls.urlpatterns:
        if isinstance(entry, URLResolver) and entry.urlconf_name in (
            config.api_urls,
            "config.api_urls",
        ):
            return "/" + _pattern_text(entry.pattern)
    raise AssertionError("config.urls does not include config.api_urls")


def routed_paths(patterns, prefix: str) -> Iterator[str]:
    for entry in patterns:
        text = prefix + _pattern_text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routed_paths(entry.url_patterns, text)
        else:
            assert isinstance(entry, URLPattern)
            yield text


def resolve_ref(ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = OPENAPI
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(node: dict) -> dict:
    while "$ref" in node:
        node = resolve_ref(node["$ref"])
    return node


# --- A small JSON Schema checker: just the keywords config/openapi.json uses ----------------

JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
SUPPORTED_KEYWORDS = {
    "$ref",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "maxItems",
    "format",
    "default",
    "description",
}


def _is_type(value, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, JSON_TYPES[kind])


def schema_errors(value, schema: dict, where: str = "$") -> list[str]:
    schema = deref(schema)
    unknown = set(schema) - SUPPORTED_KEYWORDS
    assert not unknown, f"teach schema_errors about {unknown}"
    errors = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, kind) for kind in kinds):
            return [f"{where}: expected {schema['type']}, got {value!r}"]
        if value is None:
            return []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: {value!r} < {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{where}: {value!r} > {schema['maximum']}")
    if schema.get("format") == "date-time" and not RFC3339_UTC.fullmatch(value):
        errors.append(f"{where}: {value!r} is not an RFC 3339 date-time")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: missing {name!r}")
        if schema.get("additionalProperties") is False:
            for name in sorted(set(value) - set(properties)):
                errors.append(f"{where}: undocumented field {name!r}")
        for name, sub in properties.items():
            if name in value:
                errors += schema_errors(value[name], sub, f"{where}.{name}")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), f"{where}[{index}]")
    return errors


# --- The document itself --------------------------------------------------------------------


def test_served_without_credentials(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["info"].pop("version") == settings.KEYHOUSE_VERSION
    assert body == OPENAPI
    assert re.fullmatch(r"3\.\d+\.\d+", body["openapi"])
    assert body["info"]["title"]
    assert body["paths"]


def test_document_is_well_formed():
    schemes = OPENAPI["components"]["securitySchemes"]
    assert (schemes["basicAuth"]["type"], schemes["basicAuth"]["scheme"]) == ("http", "basic")
    assert (schemes["bearerAuth"]["type"], schemes["bearerAuth"]["scheme"]) == ("http", "bearer")
    for requirement in OPENAPI["security"]:
        assert set(requirement) <= set(schemes)

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                resolve_ref(node["$ref"])  # KeyError when dangling
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(OPENAPI)

    operation_ids = [OPENAPI["paths"][path][method]["operationId"] for path, method in OPERATIONS]
    assert len(operation_ids) == len(set(operation_ids))

    for path, method in OPERATIONS:
        item = OPENAPI["paths"][path]
        operation = item[method]
        parameters = [
            deref(p) for p in item.get("parameters", []) + operation.get("parameters", [])
        ]
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), (path, method)
        assert operation["responses"], (path, method)
        for status, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
            response = deref(response)
            assert response["description"]
            if 400 <= int(status) < 500:
                schema = response["content"]["application/json"]["schema"]
                assert deref(schema) == OPENAPI["components"]["schemas"]["Error"]
        if "requestBody" in operation:
            media = list(operation["requestBody"]["content"])
            # RFC 7662 introspection takes a form first; everything else is JSON only.
            allowed = [["application/json"], [FORM, "application/json"]]
            assert media in allowed if path == INTROSPECT else [["application/json"]], path


# --- Document and URL map agree -------------------------------------------------------------

PUBLIC_PATHS = {"/api/health", "/api/openapi.json"}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_documented_operation_is_served(client, path, method):
    url = example_url(path)
    resolve(url)  # Resolver404 when the documented path does not exist
    response = client.generic(method.upper(), url)
    assert response.status_code != 405, f"{method.upper()} {path} is documented but refused"
    if path not in PUBLIC_PATHS:
        assert response.status_code == 401, f"{method.upper()} {path} answered without credentials"
        wrong = client.generic(method.upper(), url, **basic_auth("nobody-here", "wrong"))
        assert wrong.status_code == 401, f"{method.upper()} {path} accepted a bad password"


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(OPENAPI["paths"]))
def test_undocumented_methods_are_refused(client, path):
    url = example_url(path)
    for method in PROBED_METHODS:
        if method in OPENAPI["paths"][path]:
            continue
        response = client.generic(method.upper(), url)
        assert response.status_code == 405, f"{method.upper()} {path} is served but undocumented"
        assert response.json() == {"message": "Method not allowed"}


def test_every_api_url_is_documented():
    routed = {normalise(path) for path in routed_paths(config.api_urls.urlpatterns, api_prefix())}
    documented = {normalise(path) for path in OPENAPI["paths"]}
    assert routed - documented == set(), "add these /api URLs to config/openapi.json"
    assert documented - routed == set(), "config/openapi.json documents URLs that do not exist"


def test_trailing_slash_aliases_reach_the_same_view():
    for path in routed_paths(config.api_urls.urlpatterns, api_prefix()):
        url = example_url(path)
        alias = url[:-1] if url.endswith("/") else url + "/"
        try:
            alias_match = resolve(alias)
        except Resolver404:
            continue
        if alias_match.func is accounts_api.not_found:
            continue  # no alias: the JSON 404 catch-all answers
        assert alias_match.func is resolve(url).func, (url, alias)


# --- Real responses match the documented schemas --------------------------------------------


def check_response(response, method: str, path: str) -> list[str]:
    operation = OPENAPI["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return [f"{method} {path} is not documented"]
    status = str(response.status_code)
    if status not in operation["responses"]:
        return [f"{method} {path}: status {status} is not documented ({response.content[:200]!r})"]
    if method.upper() == "HEAD":
        return []  # no body to check
    documented = deref(operation["responses"][status])
    schema = documented["content"]["application/json"]["schema"]
    return [f"{method} {path} {status}: {e}" for e in schema_errors(response.json(), schema)]


@dataclass(frozen=True)
class Step:
    """One request of a scenario. ``ids`` fill the path's placeholders from the world's
    names; ``who`` is None, a persona's login, (login, password) or ("Bearer", secret)."""

    method: str
    path: str
    expected: int
    who: str | tuple[str, str] | None = "alice"
    body: object = None
    query: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    returns: dict | None = None  # fields the JSON answer must have, when given


SA = "/api/serviceaccounts/{serviceAccountId}"
TOKENS = SA + "/tokens"
TOKEN = TOKENS + "/{tokenId}"
REVOKE = TOKEN + "/revoke"
ROTATE = TOKEN + "/rotate"
KEYS = "/api/auth/keys"
MIGRATE = "/api/serviceaccounts/migrate"
MIGRATE_ONE = MIGRATE + "/{keyId}"
STATUS = "/api/serviceaccounts/migrationstatus"
DOC_BOT = {"serviceAccountId": "doc_bot"}
DOOMED = {**DOC_BOT, "tokenId": "doomed"}
KEPT = {**DOC_BOT, "tokenId": "kept"}
NO_TOKEN = {**DOC_BOT, "tokenId": "missing"}
ACME = {"orgId": "acme"}
NEW_KEY = {"name": "k", "role": "Viewer", "secondsToLive": 3600}
ADD = {"loginOrEmail": "newbie", "role": "Viewer"}
USER_U1 = {"login": "u1", "password": "S3cure-pass!"}
TEAM = "/api/teams/{teamId}"
MEMBERS = TEAM + "/members"
TEAM_SA = TEAM + "/serviceaccounts/{serviceAccountId}"
TEAM_PERMISSIONS = TEAM + "/permissions"
SA_PERMISSIONS = SA + "/permissions"
PERMISSION = "/api/permissions/{name}"
ORG_USERS = "/api/org/users"
ORG_USER = ORG_USERS + "/{userId}"
OPS = {"teamId": "ops"}
VERIFY = "/api/auth/verify"
INTROSPECT = "/api/auth/introspect"
FORM = "application/x-www-form-urlencoded"
DOOMED_TOKEN = ("Bearer", "doomed_secret")
VERIFY_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def verify_steps(method: str) -> list[Step]:
    return [
        Step(method, VERIFY, 200, who=DOOMED_TOKEN, query="?role=Viewer"),
        Step(method, VERIFY, 200, who=("Bearer", "k1_secret")),
        Step(method, VERIFY, 401, who=None),
        Step(method, VERIFY, 401),  # a user's password
        Step(method, VERIFY, 403, who=DOOMED_TOKEN, query="?permission=metrics:ingest"),
        Step(method, VERIFY, 403, who=DOOMED_TOKEN, query="?role=Editor"),
        Step(method, VERIFY, 400, who=DOOMED_TOKEN, query="?role=Boss"),
    ]


EVERYONE = {"teamId": "everyone"}
EDDIE = {"userId": "eddie"}
ORG_BY_ID = "/api/orgs/{orgId}"
ADMIN_USER = "/api/admin/users/{userId}"
INVITES = "/api/org/invites"
INVITE_REVOKE = INVITES + "/{code}/revoke"
INVITE = {"loginOrEmail": "new@example.com", "role": "Viewer"}
GRANTS = "/api/admin/grants"
GRANT = GRANTS + "/{permission}"
LEAK = {"permission": "leak_permission"}
GIVE = {"serviceAccountId": "doc_bot"}

# One scenario per documented operation: its steps run in order on a fresh world, and every
# answer must have the expected status and match the documented schema.
SCENARIOS: dict[str, list[Step]] = {
    "GET /api/health": [Step("GET", "/api/health", 200, who=None)],
    "GET /api/openapi.json": [Step("GET", "/api/openapi.json", 200, who=None)],
    "GET /api/org": [
        Step("GET", "/api/org", 200),
        Step("GET", "/api/org", 401, who=None),
        Step("GET", "/api/org", 401, who=("alice", "wrong")),
        Step("GET", "/api/org", 200, who=("Bearer", "doomed_secret")),
        Step("GET", "/api/org", 200, who=("Bearer", "k1_secret")),
        Step("GET", "/api/org", 401, who=("Bearer", "glsa_nonsense")),
    ],
    "GET /api/user": [
        Step("GET", "/api/user", 200),
        Step("GET", "/api/user", 403, who=("Bearer", "doomed_secret")),
    ],
    "GET /api/orgs": [
        Step("GET", "/api/orgs", 200, who="root", query="?query=a"),
        Step("GET", "/api/orgs", 403),
    ],
    "POST /api/orgs": [
        Step("POST", "/api/orgs", 200, who="root", body={"name": "Initech"}),
        Step("POST", "/api/orgs", 409, who="root", body={"name": "initech"}),
        Step("POST", "/api/orgs", 400, who="root", body={}),
        Step("GET", "/api/orgs", 200, who="root", query="?query=initech"),
    ],
    "POST /api/admin/users": [
        Step("POST", "/api/admin/users", 200, who="root", body=USER_U1),
        Step("POST", "/api/admin/users", 409, who="root", body=USER_U1),
        Step(
            "POST",
            "/api/admin/users",
            404,
            who="root",
            body={**USER_U1, "login": "u2", "OrgId": 10**9},
        ),
        Step("POST", "/api/admin/users", 400, who="root", body={"login": "u3", "password": "x"}),
        Step("POST", "/api/admin/users", 403, body={"login": "u3", "password": "x"}),
    ],
    "POST /api/orgs/{orgId}/users": [
        Step("POST", "/api/orgs/{orgId}/users", 200, ids=ACME, body=ADD),
        Step("POST", "/api/orgs/{orgId}/users", 409, ids=ACME, body=ADD),
        Step(
            "POST", "/api/orgs/{orgId}/users", 404, ids=ACME, body={**ADD, "loginOrEmail": "ghost"}
        ),
        Step("POST", "/api/orgs/{orgId}/users", 400, ids=ACME, body={**ADD, "role": "Boss"}),
        Step("POST", "/api/orgs/{orgId}/users", 404, ids={"orgId": "globex"}, body=ADD),
    ],
    f"GET {ORG_BY_ID}": [
        Step("GET", ORG_BY_ID, 200, who="root", ids=ACME),
        Step("GET", ORG_BY_ID, 404, who="root", ids={"orgId": "missing"}),
        Step("GET", ORG_BY_ID, 403, ids=ACME),
    ],
    f"PUT {ORG_BY_ID}": [
        Step("PUT", ORG_BY_ID, 200, who="root", ids=ACME, body={"name": "Acme 2"}),
        Step("PUT", ORG_BY_ID, 409, who="root", ids=ACME, body={"name": "GLOBEX"}),
        Step("PUT", ORG_BY_ID, 400, who="root", ids=ACME, body={"name": ""}),
        Step("PUT", ORG_BY_ID, 403, ids=ACME, body={"name": "Mine"}),
    ],
    f"DELETE {ORG_BY_ID}": [
        Step("DELETE", ORG_BY_ID, 403, ids={"orgId": "globex"}),
        Step("DELETE", ORG_BY_ID, 200, who="root", ids={"orgId": "globex"}),
        Step("DELETE", ORG_BY_ID, 404, who="root", ids={"orgId": "globex"}),
    ],
    f"POST {ADMIN_USER}/disable": [
        Step("POST", ADMIN_USER + "/disable", 200, who="root", ids=EDDIE),
        Step("GET", "/api/org", 401, who="eddie"),
        Step("POST", ADMIN_USER + "/disable", 400, who="root", ids={"userId": "root"}),
        Step("POST", ADMIN_USER + "/disable", 404, who="root", ids={"userId": "missing"}),
        Step("POST", ADMIN_USER + "/disable", 403, ids=EDDIE),
    ],
    f"POST {ADMIN_USER}/enable": [
        Step("POST", ADMIN_USER + "/disable", 200, who="root", ids=EDDIE),
        Step("POST", ADMIN_USER + "/enable", 200, who="root", ids=EDDIE),
        Step("GET", "/api/org", 200, who="eddie"),
    ],
    f"PUT {ADMIN_USER}/permissions": [
        Step(
            "PUT",
            ADMIN_USER + "/permissions",
            400,
            who="root",
            ids={"userId": "root"},
            body={"isGrafanaAdmin": False},
        ),
        Step(
            "PUT",
            ADMIN_USER + "/permissions",
            200,
            who="root",
            ids=EDDIE,
            body={"isGrafanaAdmin": True},
        ),
        Step("GET", "/api/orgs", 200, who="eddie"),
        Step("PUT", ADMIN_USER + "/permissions", 400, who="root", ids=EDDIE, body={}),
        Step("PUT", ADMIN_USER + "/permissions", 403, ids=EDDIE, body={"isGrafanaAdmin": True}),
    ],
    f"GET {GRANTS}": [
        Step("GET", GRANTS, 200, who="root"),
        Step("PUT", GRANT, 200, who="root", ids=LEAK, body=GIVE),
        Step("GET", GRANTS, 200, who="root"),
        Step("GET", GRANTS, 403),
    ],
    f"PUT {GRANT}": [
        Step(
            "PUT",
            GRANT,
            200,
            who="root",
            ids=LEAK,
            body=GIVE,
            returns={"permission": "tokens:report-leak"},
        ),
        Step("PUT", GRANT, 200, who="root", ids=LEAK, body={"serviceAccountId": "other_bot"}),
        Step("PUT", GRANT, 404, who="root", ids={"permission": "custom_permission"}, body=GIVE),
        Step("PUT", GRANT, 404, who="root", ids=LEAK, body={"serviceAccountId": "missing"}),
        Step("PUT", GRANT, 400, who="root", ids=LEAK, body={}),
        Step("PUT", GRANT, 400, who="root", ids=LEAK, body={"serviceAccountId": "seven"}),
        Step("PUT", GRANT, 400, who="root", ids=LEAK, body="{not json"),
        Step("PUT", GRANT, 403, ids=LEAK, body=GIVE),
    ],
    f"DELETE {GRANT}": [
        Step("DELETE", GRANT, 404, who="root", ids=LEAK),
        Step("PUT", GRANT, 200, who="root", ids=LEAK, body=GIVE),
        Step("DELETE", GRANT, 403, ids=LEAK),
        Step("DELETE", GRANT, 200, who="root", ids=LEAK),
        Step("DELETE", GRANT, 404, who="root", ids={"permission": "custom_permission"}),
    ],
    "GET /api/serviceaccounts/search": [
        Step("GET", "/api/serviceaccounts/search", 200, query="?query=bot&perpage=1"),
        Step("GET", "/api/serviceaccounts/search", 200, query="?page=99"),
        Step(
            "GET",
            "/api/serviceaccounts/search",
            200,
            query="?expiringTokens=true",
            returns={"totalCount": 0},
        ),
        Step("GET", "/api/serviceaccounts/search", 400, query="?perpage=0"),
        Step("GET", "/api/serviceaccounts/search", 403, who="vera"),
    ],
    "POST /api/serviceaccounts": [
        Step("POST", "/api/serviceaccounts", 201, body={"name": "new", "role": "Editor"}),
        Step("POST", "/api/serviceaccounts", 409, body={"name": "NEW"}),
        Step("POST", "/api/serviceaccounts", 400, body={"name": ""}),
        Step("POST", "/api/serviceaccounts", 400, body="{not json"),
    ],
    f"GET {SA}": [
        Step("GET", SA, 200, ids=DOC_BOT),
        Step("GET", SA, 404, ids={"serviceAccountId": "missing"}),
        Step("GET", SA, 403, who="vera", ids=DOC_BOT),
    ],
    f"PATCH {SA}": [
        Step("PATCH", SA, 200, ids=DOC_BOT, body={"name": "doc-bot-2", "isDisabled": True}),
        Step("PATCH", SA, 409, ids=DOC_BOT, body={"name": "other-bot"}),
        Step("PATCH", SA, 400, ids=DOC_BOT, body={"isDisabled": "no"}),
    ],
    f"DELETE {SA}": [
        Step("DELETE", SA, 200, ids=DOC_BOT),
        Step("DELETE", SA, 404, ids=DOC_BOT),
    ],
    f"GET {TOKENS}": [
        Step("GET", TOKENS, 200, ids=DOC_BOT),
        Step("GET", TOKENS, 403, who="vera", ids=DOC_BOT),
    ],
    f"POST {TOKENS}": [
        Step("POST", TOKENS, 200, ids=DOC_BOT, body={"name": "t1"}),
        Step("POST", TOKENS, 200, ids=DOC_BOT, body={"name": "t2", "secondsToLive": 3600}),
        Step("POST", TOKENS, 409, ids=DOC_BOT, body={"name": "T1"}),
        Step("POST", TOKENS, 400, ids=DOC_BOT, body={"name": "t3", "secondsToLive": -1}),
        Step("POST", TOKENS, 404, ids={"serviceAccountId": "missing"}, body={"name": "t1"}),
    ],
    f"DELETE {TOKEN}": [
        Step("DELETE", TOKEN, 404, ids={**DOC_BOT, "tokenId": "missing"}),
        Step("DELETE", TOKEN, 200, ids={**DOC_BOT, "tokenId": "doomed"}),
        Step("GET", "/api/org", 401, who=("Bearer", "doomed_secret")),
    ],
    f"PATCH {TOKEN}": [
        Step(
            "PATCH", TOKEN, 200, ids=DOOMED, body={"name": "renamed"}, returns={"name": "renamed"}
        ),
        Step("GET", "/api/org", 200, who=("Bearer", "doomed_secret")),
        Step("PATCH", TOKEN, 409, ids=DOOMED, body={"name": "KEPT"}),
        Step("PATCH", TOKEN, 400, ids=DOOMED, body={"name": ""}),
        Step("PATCH", TOKEN, 400, ids=DOOMED, body={}),
        Step("PATCH", TOKEN, 404, ids=NO_TOKEN, body={"name": "x"}),
        Step("PATCH", TOKEN, 403, who="vera", ids=DOOMED, body={"name": "x"}),
    ],
    f"POST {REVOKE}": [
        Step("POST", REVOKE, 200, ids=DOOMED, returns={"isRevoked": True, "name": "x"}),
        Step("GET", "/api/org", 401, who=("Bearer", "doomed_secret")),
        Step("POST", REVOKE, 200, ids=DOOMED, returns={"isRevoked": True}),
        Step("POST", REVOKE, 404, ids=NO_TOKEN),
        Step("POST", REVOKE, 403, who="vera", ids=KEPT),
    ],
    f"POST {ROTATE}": [
        Step("POST", ROTATE, 200, ids=DOOMED, body={"graceSeconds": 60}, returns={"name": "x"}),
        Step("GET", "/api/org", 200, who=("Bearer", "doomed_secret")),
        Step("POST", ROTATE, 409, ids=DOOMED, body={}),
        Step("POST", ROTATE, 400, ids=KEPT, body={"graceSeconds": -1}),
        Step("POST", ROTATE, 400, ids=KEPT, body={"secondsToLive": -1}),
        Step("POST", REVOKE, 200, ids=KEPT),
        Step("POST", ROTATE, 400, ids=KEPT, body={}),
        Step("POST", ROTATE, 404, ids=NO_TOKEN, body={}),
        Step("POST", ROTATE, 403, who="vera", ids=KEPT, body={}),
    ],
    f"GET {KEYS}": [
        Step("GET", KEYS, 200),
        Step("GET", KEYS, 200, query="?includeExpired=true"),
        Step("GET", KEYS, 403, who="vera"),
    ],
    f"POST {KEYS}": [
        Step("POST", KEYS, 200, body={**NEW_KEY, "name": "k4"}, returns={"name": "k4"}),
        Step("POST", KEYS, 409, body={**NEW_KEY, "name": "K1"}),
        Step("POST", KEYS, 400, body={**NEW_KEY, "role": "Boss"}),
        Step("POST", KEYS, 400, body={"name": "no-role"}),
        Step("POST", MIGRATE, 200),
        Step("POST", KEYS, 410, body={**NEW_KEY, "name": "late"}),
    ],
    f"DELETE {KEYS}/{{id}}": [
        Step("DELETE", KEYS + "/{id}", 200, ids={"id": "k2"}),
        Step("DELETE", KEYS + "/{id}", 404, ids={"id": "k2"}),
    ],
    f"POST {MIGRATE_ONE}": [
        Step("POST", MIGRATE_ONE, 200, ids={"keyId": "k1"}),
        Step("POST", MIGRATE_ONE, 404, ids={"keyId": "k1"}),
        Step("DELETE", KEYS + "/{id}", 404, ids={"id": "k1"}),
        Step("GET", "/api/org", 200, who=("Bearer", "k1_secret")),
    ],
    f"POST {MIGRATE}": [
        Step("POST", MIGRATE, 200, returns={"total": 3, "migrated": 3, "failed": 0}),
        Step("POST", MIGRATE, 403, who="vera"),
    ],
    f"GET {STATUS}": [
        Step("GET", STATUS, 200, returns={"migrated": False}),
        Step("POST", MIGRATE, 200),
        Step("GET", STATUS, 200, returns={"migrated": True}),
    ],
    "POST /api/serviceaccounts/hideApiKeys": [
        Step("POST", MIGRATE, 200),
        Step("POST", "/api/serviceaccounts/hideApiKeys", 200),
    ],
    # Teams, permissions and org members (DESIGN §11)
    "POST /api/teams": [
        Step("POST", "/api/teams", 200, body={"name": "Dev", "email": "dev@example.com"}),
        Step("POST", "/api/teams", 409, body={"name": "dev"}),
        Step("POST", "/api/teams", 400, body={"name": ""}),
        Step("POST", "/api/teams", 403, who="vera", body={"name": "x"}),
    ],
    "POST /api/auth/leaked": [
        Step("POST", "/api/auth/leaked", 200, who="root", body={"tokens": ["x"], "source": "s"}),
        Step("POST", "/api/auth/leaked", 400, who="root", body={"tokens": 1}),
        Step("POST", "/api/auth/leaked", 403, body={"tokens": []}),
    ],
    "GET /api/audit": [
        Step("GET", "/api/audit", 200, query="?perpage=2&page=1"),
        Step("GET", "/api/audit", 200, query="?action=serviceaccount&actorType=user"),
        Step("GET", "/api/audit", 200, query="?targetType=service-account&targetId=1"),
        Step("GET", "/api/audit", 400, query="?actorType=robot"),
        Step("GET", "/api/audit", 403, who="vera"),
    ],
    "GET /api/teams/search": [
        Step("GET", "/api/teams/search", 200, query="?query=o&perpage=1&page=2"),
        Step("GET", "/api/teams/search", 200, query="?name=ops"),
        Step("GET", "/api/teams/search", 400, query="?perpage=0"),
        Step("GET", "/api/teams/search", 403, who="vera"),
    ],
    f"GET {TEAM}": [
        Step("GET", TEAM, 200, ids=OPS),
        Step("GET", TEAM, 200, ids=EVERYONE, returns={"builtIn": True}),
        Step("GET", TEAM, 404, ids={"teamId": "globex_everyone"}),
    ],
    f"PUT {TEAM}": [
        Step("PUT", TEAM, 200, ids=OPS, body={"name": "Operations", "email": "o@example.com"}),
        Step("PUT", TEAM, 409, ids=OPS, body={"name": "everyone"}),
        Step("PUT", TEAM, 400, ids=EVERYONE, body={"name": "All"}),
    ],
    f"DELETE {TEAM}": [
        Step("DELETE", TEAM, 400, ids=EVERYONE),
        Step("DELETE", TEAM, 200, ids=OPS),
        Step("DELETE", TEAM, 404, ids=OPS),
    ],
    f"GET {MEMBERS}": [
        Step("POST", MEMBERS, 200, ids=OPS, body={"serviceAccountId": "doc_bot"}),
        Step("GET", MEMBERS, 200, ids=OPS),
        Step("GET", MEMBERS, 200, ids=EVERYONE),
    ],
    f"POST {MEMBERS}": [
        Step("POST", MEMBERS, 200, ids=OPS, body={"userId": "eddie"}),
        Step("POST", MEMBERS, 200, ids=OPS, body={"serviceAccountId": "doc_bot"}),
        Step("POST", MEMBERS, 409, ids=OPS, body={"userId": "eddie"}),
        Step("POST", MEMBERS, 400, ids=OPS, body={}),
        Step("POST", MEMBERS, 400, ids=EVERYONE, body={"userId": "eddie"}),
        Step("POST", MEMBERS, 404, ids={"teamId": "missing"}, body={"userId": "eddie"}),
    ],
    f"DELETE {MEMBERS}/{{userId}}": [
        Step("POST", MEMBERS, 200, ids=OPS, body={"userId": "eddie"}),
        Step("DELETE", MEMBERS + "/{userId}", 200, ids={**OPS, "userId": "eddie"}),
        Step("DELETE", MEMBERS + "/{userId}", 404, ids={**OPS, "userId": "eddie"}),
    ],
    f"DELETE {TEAM_SA}": [
        Step("POST", MEMBERS, 200, ids=OPS, body={"serviceAccountId": "doc_bot"}),
        Step("DELETE", TEAM_SA, 200, ids={**OPS, **DOC_BOT}),
        Step("DELETE", TEAM_SA, 404, ids={**OPS, **DOC_BOT}),
        Step("DELETE", TEAM_SA, 400, ids={**EVERYONE, **DOC_BOT}),
    ],
    f"GET {TEAM_PERMISSIONS}": [Step("GET", TEAM_PERMISSIONS, 200, ids=OPS)],
    f"PUT {TEAM_PERMISSIONS}": [
        Step("PUT", TEAM_PERMISSIONS, 200, ids=OPS, body={"permissions": ["teams:write"]}),
        Step("PUT", TEAM_PERMISSIONS, 400, ids=OPS, body={"permissions": ["nope:nope"]}),
    ],
    f"GET {SA_PERMISSIONS}": [
        Step("GET", SA_PERMISSIONS, 200, ids=DOC_BOT),
        Step("GET", SA_PERMISSIONS, 403, who=("Bearer", "doomed_secret"), ids=DOC_BOT),
    ],
    f"PUT {SA_PERMISSIONS}": [
        Step("PUT", SA_PERMISSIONS, 200, ids=DOC_BOT, body={"permissions": ["apikeys:write"]}),
        Step("PUT", SA_PERMISSIONS, 400, ids=DOC_BOT, body={"permissions": "apikeys:write"}),
        Step("GET", SA, 200, ids=DOC_BOT, returns={"teams": ["Everyone"]}),
    ],
    "GET /api/permissions": [Step("GET", "/api/permissions", 200, who="vera")],
    "POST /api/permissions": [
        Step("POST", "/api/permissions", 201, body={"name": "alerts:read"}),
        Step("POST", "/api/permissions", 409, body={"name": "alerts:read"}),
        Step("POST", "/api/permissions", 400, body={"name": "Bad"}),
    ],
    f"DELETE {PERMISSION}": [
        Step("DELETE", PERMISSION, 400, ids={"name": "builtin_permission"}),
        Step("DELETE", PERMISSION, 200, ids={"name": "custom_permission"}),
        Step("DELETE", PERMISSION, 404, ids={"name": "custom_permission"}),
    ],
    **{f"{method} {VERIFY}": verify_steps(method) for method in VERIFY_METHODS},
    f"POST {INTROSPECT}": [
        Step("POST", INTROSPECT, 200, body={"token": "doomed_secret"}, returns={"active": True}),
        Step("POST", INTROSPECT, 200, body={"token": "glsa_nonsense"}, returns={"active": False}),
        Step("POST", INTROSPECT, 200, body={"token": "k1_secret"}, returns={"active": True}),
        Step("POST", INTROSPECT, 400, body={}),
        Step("POST", INTROSPECT, 401, who=None, body={"token": "doomed_secret"}),
        Step("POST", INTROSPECT, 403, who="vera", body={"token": "doomed_secret"}),
    ],
    f"GET {ORG_USERS}": [
        Step("GET", ORG_USERS, 200),
        Step("GET", ORG_USERS, 403, who="vera"),
    ],
    f"POST {ORG_USERS}": [
        Step("POST", ORG_USERS, 200, body=ADD),
        Step("POST", ORG_USERS, 409, body=ADD),
        Step("POST", ORG_USERS, 404, body={**ADD, "loginOrEmail": "ghost"}),
        Step("POST", ORG_USERS, 403, who=("Bearer", "doomed_secret"), body=ADD),
    ],
    f"GET {INVITES}": [
        Step("POST", INVITES, 200, body=INVITE),
        Step("GET", INVITES, 200),
        Step("GET", INVITES, 403, who="vera"),
    ],
    f"POST {INVITES}": [
        Step("POST", INVITES, 200, body=INVITE),
        Step("POST", INVITES, 200, body={**INVITE, "name": "New", "sendEmail": False}),
        Step("POST", INVITES, 409, body={**INVITE, "loginOrEmail": "eddie"}),
        Step("POST", INVITES, 400, body={**INVITE, "loginOrEmail": "nobody at all"}),
        Step("POST", INVITES, 403, who=("Bearer", "doomed_secret"), body=INVITE),
    ],
    f"DELETE {INVITE_REVOKE}": [
        Step("DELETE", INVITE_REVOKE, 200, ids={"code": "invite_code"}),
        Step("DELETE", INVITE_REVOKE, 404, ids={"code": "invite_code"}),
    ],
    f"PATCH {ORG_USER}": [
        Step("PATCH", ORG_USER, 200, ids=EDDIE, body={"role": "Viewer"}),
        Step("PATCH", ORG_USER, 400, ids=EDDIE, body={"role": "Boss"}),
        Step("PATCH", ORG_USER, 400, ids={"userId": "alice"}, body={"role": "Viewer"}),
        Step("PATCH", ORG_USER, 404, ids={"userId": "missing"}, body={"role": "Viewer"}),
    ],
    f"DELETE {ORG_USER}": [
        Step("DELETE", ORG_USER, 400, ids={"userId": "alice"}),
        Step("DELETE", ORG_USER, 200, ids=EDDIE),
        Step("DELETE", ORG_USER, 404, ids=EDDIE),
    ],
}


@pytest.fixture
def world(org, other_org, admin, editor, viewer, server_admin, org_admin) -> dict[str, int | str]:
    """What the scenarios act on, by name: Acme with two accounts, a token, three keys, the
    team Ops and a custom permission."""
    make_user("newbie", other_org, Role.VIEWER)
    doc_bot = service_account_create(identity=org_admin, name="doc-bot")
    other_bot = service_account_create(identity=org_admin, name="other-bot")
    doomed, doomed_secret = token_create(
        identity=org_admin, account=doc_bot, name="x", expires_at=None
    )
    kept, _ = token_create(identity=org_admin, account=doc_bot, name="kept", expires_at=None)
    names: dict[str, int | str] = {
        "acme": org.pk,
        "globex": other_org.pk,
        "missing": 10**9,
        "doc_bot": doc_bot.pk,
        "doomed": doomed.pk,
        "doomed_secret": doomed_secret,
        "alice": admin.pk,
        "eddie": editor.pk,
        "root": server_admin.pk,
        "ops": team_create(identity=org_admin, name="Ops").pk,
        "everyone": Team.objects.get(org=org, is_everyone=True).pk,
        "globex_everyone": Team.objects.get(org=other_org, is_everyone=True).pk,
        "builtin_permission": "teams:write",
        "leak_permission": "tokens:report-leak",
        "other_bot": other_bot.pk,
        "custom_permission": permission_create(identity=org_admin, name="metrics:ingest").name,
        "kept": kept.pk,
        "invite_code": invite_create(
            identity=org_admin, login_or_email="x@example.com", role=Role.VIEWER, base_url=""
        )[0].code,
    }
    for name in ("k1", "k2", "k3"):
        key, secret = api_key_create(
            identity=org_admin, name=name, role=Role.VIEWER, seconds_to_live=3600
        )
        names |= {name: key.pk, f"{name}_secret": secret}
    return names


def run(client: Client, world: dict[str, int | str], step: Step):
    url = step.path.format(**{name: world[value] for name, value in step.ids.items()})
    url += step.query
    if step.who is None:
        return Client().generic(step.method, url)
    body = step.body
    if isinstance(body, dict):  # ids (and tokens) in a body name world objects too
        body = {
            key: world.get(value, value) if key.endswith("Id") or key == "token" else value
            for key, value in body.items()
        }
    if step.who[0] == "Bearer":
        secret = world.get(step.who[1], step.who[1])
        return call(client, step.method, url, body, HTTP_AUTHORIZATION=f"Bearer {secret}")
    login, password = (step.who, PASSWORD) if isinstance(step.who, str) else step.who
    return call(client, step.method, url, body, **basic_auth(login, password))


def test_every_documented_operation_has_a_scenario():
    assert set(SCENARIOS) == {f"{method.upper()} {path}" for path, method in OPERATIONS}


@pytest.mark.django_db
@pytest.mark.parametrize("operation", list(SCENARIOS))
def test_responses_match_documented_schemas(client, world, operation):
    problems = []
    for step in SCENARIOS[operation]:
        response = run(client, world, step)
        if response.status_code != step.expected:
            problems.append(
                f"{step.method} {step.path}{step.query}: expected {step.expected}, "
                f"got {response.status_code} {response.content[:200]!r}"
            )
            continue
        problems += check_response(response, step.method, step.path)
        if step.returns is not None:
            body = response.json()
            if {name: body.get(name) for name in step.returns} != step.returns:
                problems.append(f"{step.method} {step.path}: {body} lacks {step.returns}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_method_not_allowed_matches_the_documented_error(client):
    response = client.put("/api/serviceaccounts/1")
    assert response.status_code == 405
    assert response["Allow"] == "DELETE, GET, PATCH"
    schema = deref(OPENAPI["components"]["responses"]["MethodNotAllowed"])
    assert schema_errors(response.json(), schema["content"]["application/json"]["schema"]) == []
