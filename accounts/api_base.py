"""Plumbing shared by every JSON endpoint: one decorator for method, authentication, role
and error handling, and one body parser. Errors always look like ``{"message": "…"}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, Protocol

from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.access import AppRequest, Needed, require_access
from accounts.api_auth import AuthenticationFailed, authenticate_request
from accounts.errors import Refusal
from accounts.names import is_utf8
from accounts.roles import Role
from accounts.services import MAX_SECONDS_TO_LIVE

logger = logging.getLogger("keyhouse.auth")


API_CSP = "default-src 'none'; frame-ancestors 'none'"
View = Callable[..., HttpResponse]


class ApiError(Refusal):
    """A refusal the API view decides itself, with its own status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def with_api_headers(response: HttpResponse) -> HttpResponse:
    """Every API response: nothing may be cached, least of all a new secret (unless the view
    chose otherwise: forward auth may be cached on purpose), and JSON needs no page policy
    from the CSP middleware (costly per request): a fixed deny-all one."""
    response["Content-Security-Policy"] = API_CSP
    response.headers.setdefault("Cache-Control", "no-store")
    return response


ANY_METHOD = None  # ``api_view(ANY_METHOD)``: reverse proxies pass the original method on


def api_view(
    methods: Iterable[str] | Mapping[str, Needed] | None, *, authenticated: bool = True
) -> Callable[[View], View]:
    """Mark a JSON endpoint. The API authenticates by the Authorization header only, never
    by the session cookie, which is why it is safe to exempt it from CSRF checks.

    ``methods`` lists the allowed methods (``ANY_METHOD``: every one), or maps each to the
    permission it needs (see ``accounts.access.Needed``; a plain list needs none). Refusals
    become ``{"message"}`` responses here, once: every ``Refusal`` with its own status (bad
    credentials 401, a missing permission 403, Conflict 409, …), a missing or other-org
    object 404, a service's ValidationError 400."""
    needs: Mapping[str, Needed] = (
        methods if isinstance(methods, Mapping) else dict.fromkeys(methods or ())
    )
    allowed = frozenset(needs)
    any_method = methods is ANY_METHOD

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: AppRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = _respond(request, view, args, kwargs)
            if not any_method and request.method not in allowed:
                response["Allow"] = ", ".join(sorted(allowed))
            return with_api_headers(response)

        wrapper.api_methods = None if any_method else allowed  # type: ignore[attr-defined]

        def _respond(
            request: AppRequest, view: View, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> HttpResponse:
            if not any_method and request.method not in allowed:
                return error_response(405, "Method not allowed")
            try:
                if authenticated:
                    request.identity = authenticate_request(request)
                    require_access(request.identity, needs.get(str(request.method)))
                return view(request, *args, **kwargs)
            except Refusal as exc:
                if isinstance(exc, AuthenticationFailed):
                    logger.warning("API authentication refused: %s", exc.reason)
                return error_response(exc.status, exc.message)
            except ValidationError as exc:  # a service refused the input
                return error_response(400, " ".join(exc.messages))
            except Http404 as exc:
                return error_response(404, str(exc) or "Not found")
            except PermissionDenied as exc:
                return error_response(403, str(exc) or "Permission denied")
            except RequestDataTooBig:
                return error_response(413, "Request body too large")

        return wrapper

    return decorator


def api_methods(view: Callable[..., object]) -> frozenset[str] | None:
    """The methods an ``api_view`` serves (None: every method)."""
    methods: frozenset[str] | None = view.api_methods  # type: ignore[attr-defined]
    return methods


def parse_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or ApiError 400."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "Bad request data: body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Bad request data: expected a JSON object")
    return data


def field(
    data: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    *,
    required: bool = False,
    default: Any = None,
) -> Any:
    """``data[name]`` if it has the given type (bools are not integers here)."""
    if name not in data or data[name] is None:
        if required:
            raise ApiError(400, f"Bad request data: {name} is required")
        return default
    value = data[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if int in kinds and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one kind of number: 1.0 is the integer 1, as in JSON Schema
    if isinstance(value, bool) and bool not in kinds:
        raise ApiError(400, f"Bad request data: {name} has the wrong type")
    if not isinstance(value, kinds):
        raise ApiError(400, f"Bad request data: {name} has the wrong type")
    if isinstance(value, str) and "\x00" in value:
        raise ApiError(400, f"Bad request data: {name} contains a NUL character")
    if isinstance(value, str) and not is_utf8(value):
        raise ApiError(400, f"Bad request data: {name} is not valid UTF-8 text")
    return value


def role_field(data: dict[str, Any], name: str = "role", *, default: Role | None = None) -> Role:
    raw = field(data, name, str, required=default is None)
    if raw is None and default is not None:
        return default
    try:
        return Role(raw)
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise ApiError(400, f"Invalid role {raw!r}: must be one of {choices}") from None


def seconds_to_live(data: dict[str, Any]) -> int:
    """``secondsToLive``: omitted or 0 means never; negative, fractional or huge is a 400."""
    value: int = field(data, "secondsToLive", int, default=0)
    if value < 0:
        raise ApiError(400, "secondsToLive must not be negative")
    if value > MAX_SECONDS_TO_LIVE:
        raise ApiError(400, f"secondsToLive must be at most {MAX_SECONDS_TO_LIVE}")
    return value


MAX_PER_PAGE = 1000


def _positive_int_param(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a positive whole number") from None
    if value < 1:
        raise ApiError(400, f"{name} must be a positive whole number")
    return value


class Pageable(Protocol):
    """A QuerySet, or anything else that counts its rows and slices out a page."""

    def count(self) -> int: ...

    def __getitem__(self, page: slice, /) -> Iterable: ...


def paged(
    request: HttpRequest, queryset: Pageable, *, total: int | None = None
) -> tuple[dict[str, int], list]:
    """Grafana's ``page`` / ``perpage`` (at most 1000) for search endpoints: the envelope's
    ``totalCount``, ``page`` and ``perPage``, and this page's rows (none past the end).
    ``total`` is the count when the caller knows it cheaper than a COUNT."""
    page = _positive_int_param(request, "page", 1)
    per_page = _positive_int_param(request, "perpage", MAX_PER_PAGE)
    if per_page > MAX_PER_PAGE:
        raise ApiError(400, f"perpage must be at most {MAX_PER_PAGE}")
    if total is None:
        total = queryset.count()
    offset = (page - 1) * per_page
    rows = list(queryset[offset : offset + per_page]) if offset < total else []
    return {"totalCount": total, "page": page, "perPage": per_page}, rows
