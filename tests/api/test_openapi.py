"""config/openapi.json against the real URL map and the real responses.

The document is hand-written, so these tests are what keeps it honest: every documented
operation must exist, every /api URL must be documented, and the bodies the views return must
match the documented schemas.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

import config.api_urls
import config.urls
from accounts import api as accounts_api
from accounts.models import Organization
from accounts.roles import Role
from tests.helpers import PASSWORD, basic_auth, call, make_user

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
    assert body == OPENAPI
    assert re.fullmatch(r"3\.\d+\.\d+", body["openapi"])
    assert body["info"]["title"]
    assert body["info"]["version"] == settings.KEYHOUSE_VERSION
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
            assert list(operation["requestBody"]["content"]) == ["application/json"]


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
    documented = deref(operation["responses"][status])
    schema = documented["content"]["application/json"]["schema"]
    return [f"{method} {path} {status}: {e}" for e in schema_errors(response.json(), schema)]


@pytest.mark.django_db
def test_responses_match_documented_schemas(client, org, other_org, admin, viewer, server_admin):
    newcomer = make_user("newbie", other_org, Role.VIEWER)
    account = call(client, "POST", "/api/serviceaccounts", {"name": "doc-bot"}).json()
    other = call(client, "POST", "/api/serviceaccounts", {"name": "other-bot"}).json()
    sa = "/api/serviceaccounts/{serviceAccountId}"
    tokens = sa + "/tokens"
    token = tokens + "/{tokenId}"
    ids = {"serviceAccountId": account["id"], "orgId": org.pk}
    doomed = call(client, "POST", f"/api/serviceaccounts/{account['id']}/tokens", {"name": "x"})
    bearer = ("Bearer", doomed.json()["key"])
    new_key = {"name": "k", "role": "Viewer", "secondsToLive": 3600}
    k1, k2, k3 = (
        call(client, "POST", "/api/auth/keys", {**new_key, "name": name}).json()
        for name in ("k1", "k2", "k3")
    )
    keys = "/api/auth/keys"
    missing = {"serviceAccountId": 10**9, "orgId": other_org.pk}
    add = {"loginOrEmail": "newbie", "role": "Viewer"}
    user_u1 = {"login": "u1", "password": "S3cure-pass!"}
    cases = [
        # (method, documented path, path params, query, body, credential, expected status);
        # credential: None, a persona's login, (login, password) or ("Bearer", token)
        ("GET", "/api/health", {}, "", None, None, 200),
        ("GET", "/api/openapi.json", {}, "", None, None, 200),
        ("GET", "/api/org", {}, "", None, "alice", 200),
        ("GET", "/api/org", {}, "", None, None, 401),
        ("GET", "/api/org", {}, "", None, ("alice", "wrong"), 401),
        ("GET", "/api/user", {}, "", None, "alice", 200),
        ("GET", "/api/org", {}, "", None, bearer, 200),
        ("GET", "/api/user", {}, "", None, bearer, 403),
        ("GET", "/api/org", {}, "", None, ("Bearer", "glsa_nonsense"), 401),
        ("GET", "/api/orgs", {}, "?query=a", None, "root", 200),
        ("GET", "/api/orgs", {}, "", None, "alice", 403),
        ("POST", "/api/orgs", {}, "", {"name": "Initech"}, "root", 200),
        ("POST", "/api/orgs", {}, "", {"name": "initech"}, "root", 409),
        ("POST", "/api/orgs", {}, "", {}, "root", 400),
        ("POST", "/api/admin/users", {}, "", user_u1, "root", 200),
        ("POST", "/api/admin/users", {}, "", user_u1, "root", 409),
        (
            "POST",
            "/api/admin/users",
            {},
            "",
            {**user_u1, "login": "u2", "OrgId": 10**9},
            "root",
            404,
        ),
        ("POST", "/api/admin/users", {}, "", {"login": "u3", "password": "x"}, "root", 400),
        ("POST", "/api/admin/users", {}, "", {"login": "u3", "password": "x"}, "alice", 403),
        ("POST", "/api/orgs/{orgId}/users", ids, "", add, "alice", 200),
        ("POST", "/api/orgs/{orgId}/users", ids, "", add, "alice", 409),
        (
            "POST",
            "/api/orgs/{orgId}/users",
            ids,
            "",
            {**add, "loginOrEmail": "ghost"},
            "alice",
            404,
        ),
        ("POST", "/api/orgs/{orgId}/users", ids, "", {**add, "role": "Boss"}, "alice", 400),
        ("POST", "/api/orgs/{orgId}/users", missing, "", add, "alice", 404),
        ("GET", "/api/serviceaccounts/search", {}, "?query=bot&perpage=1", None, "alice", 200),
        ("GET", "/api/serviceaccounts/search", {}, "?page=99", None, "alice", 200),
        ("GET", "/api/serviceaccounts/search", {}, "?perpage=0", None, "alice", 400),
        ("GET", "/api/serviceaccounts/search", {}, "", None, "vera", 403),
        ("POST", "/api/serviceaccounts", {}, "", {"name": "new", "role": "Editor"}, "alice", 201),
        ("POST", "/api/serviceaccounts", {}, "", {"name": "NEW"}, "alice", 409),
        ("POST", "/api/serviceaccounts", {}, "", {"name": ""}, "alice", 400),
        ("POST", "/api/serviceaccounts", {}, "", "{not json", "alice", 400),
        ("GET", sa, ids, "", None, "alice", 200),
        ("GET", sa, missing, "", None, "alice", 404),
        ("GET", sa, ids, "", None, "vera", 403),
        ("PATCH", sa, ids, "", {"name": "doc-bot-2", "isDisabled": True}, "alice", 200),
        ("PATCH", sa, ids, "", {"name": other["name"]}, "alice", 409),
        ("PATCH", sa, ids, "", {"isDisabled": "no"}, "alice", 400),
        ("POST", tokens, ids, "", {"name": "t1"}, "alice", 200),
        ("POST", tokens, ids, "", {"name": "t2", "secondsToLive": 3600}, "alice", 200),
        ("POST", tokens, ids, "", {"name": "T1"}, "alice", 409),
        ("POST", tokens, ids, "", {"name": "t3", "secondsToLive": -1}, "alice", 400),
        ("POST", tokens, missing, "", {"name": "t1"}, "alice", 404),
        ("GET", tokens, ids, "", None, "alice", 200),
        ("GET", tokens, ids, "", None, "vera", 403),
        ("DELETE", token, {**ids, "tokenId": 10**9}, "", None, "alice", 404),
        ("DELETE", token, {**ids, "tokenId": doomed.json()["id"]}, "", None, "alice", 200),
        ("GET", "/api/org", {}, "", None, bearer, 401),
        ("DELETE", sa, ids, "", None, "alice", 200),
        ("DELETE", sa, ids, "", None, "alice", 404),
        ("GET", keys, {}, "", None, "alice", 200),
        ("GET", keys, {}, "?includeExpired=true", None, "alice", 200),
        ("GET", keys, {}, "", None, "vera", 403),
        ("POST", keys, {}, "", {**new_key, "name": "K1"}, "alice", 409),
        ("POST", keys, {}, "", {**new_key, "role": "Boss"}, "alice", 400),
        ("POST", keys, {}, "", {"name": "no-role"}, "alice", 400),
        ("GET", "/api/org", {}, "", None, ("Bearer", k1["key"]), 200),
        ("DELETE", keys + "/{id}", {"id": k2["id"]}, "", None, "alice", 200),
        ("DELETE", keys + "/{id}", {"id": k2["id"]}, "", None, "alice", 404),
        ("GET", "/api/serviceaccounts/migrationstatus", {}, "", None, "alice", 200),
        (
            "POST",
            "/api/serviceaccounts/migrate/{keyId}",
            {"keyId": k1["id"]},
            "",
            None,
            "alice",
            200,
        ),
        (
            "POST",
            "/api/serviceaccounts/migrate/{keyId}",
            {"keyId": k1["id"]},
            "",
            None,
            "alice",
            404,
        ),
        ("DELETE", keys + "/{id}", {"id": k1["id"]}, "", None, "alice", 404),
        ("GET", "/api/org", {}, "", None, ("Bearer", k1["key"]), 200),
        ("POST", "/api/serviceaccounts/migrate", {}, "", None, "alice", 200),
        ("POST", "/api/serviceaccounts/migrate", {}, "", None, "vera", 403),
        ("POST", keys, {}, "", {**new_key, "name": "late"}, "alice", 410),
        ("GET", "/api/serviceaccounts/migrationstatus", {}, "", None, "alice", 200),
        ("POST", "/api/serviceaccounts/hideApiKeys", {}, "", None, "alice", 200),
    ]
    problems = []
    for method, path, params, query, body, user, expected in cases:
        url = path.format(**params) + query
        if user is None:
            response = Client().generic(method, url)
        elif isinstance(user, tuple) and user[0] == "Bearer":
            auth = {"HTTP_AUTHORIZATION": f"Bearer {user[1]}"}
            response = call(client, method, url, body, **auth)
        else:
            login, password = (user, PASSWORD) if isinstance(user, str) else user
            response = call(client, method, url, body, as_user=login, **basic_auth(login, password))
        if response.status_code != expected:
            problems.append(f"{method} {url}: expected {expected}, got {response.status_code}")
        problems += check_response(response, method, path)
    assert not problems, "\n".join(problems)
    assert k3["name"] == "k3"
    status = call(client, "GET", "/api/serviceaccounts/migrationstatus").json()
    assert status == {"migrated": True}
    assert Organization.objects.filter(name="Initech").exists()
    assert newcomer.memberships.filter(org=org).exists()


@pytest.mark.django_db
def test_method_not_allowed_matches_the_documented_error(client):
    response = client.put("/api/serviceaccounts/1")
    assert response.status_code == 405
    assert response["Allow"] == "DELETE, GET, PATCH"
    schema = deref(OPENAPI["components"]["responses"]["MethodNotAllowed"])
    assert schema_errors(response.json(), schema["content"]["application/json"]["schema"]) == []
