from collections.abc import Callable
from functools import partial

from django.http import HttpRequest
from django.utils import timezone

from accounts.access import Identity, current_identity, has_permission, orgs_for_user
from accounts.models import ServiceAccount, expiring_tokens
from accounts.teams.catalogue import SERVICEACCOUNTS_READ


def navigation(request: HttpRequest) -> dict:
    """The sidebar and org switcher's data, for signed-in pages only."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    identity = getattr(request, "identity", None) or current_identity(user)
    expiring: Callable[[], int] | int = 0
    if identity is not None and has_permission(identity, SERVICEACCOUNTS_READ):
        # Called (one COUNT) only where the sidebar is drawn, not for htmx fragments.
        expiring = partial(expiring_token_count, identity)
    return {
        "nav_identity": identity,
        "nav_orgs": orgs_for_user(user).only("pk", "name"),
        "nav_show_api_keys": identity is not None and not identity.org.api_keys_hidden,
        "nav_expiring_tokens": expiring,
    }


def expiring_token_count(identity: Identity) -> int:
    """How many of the org's tokens expire soon (the Service accounts entry's badge)."""
    accounts = ServiceAccount.objects.for_org(identity.org)
    return accounts.filter(expiring_tokens(timezone.now(), "tokens__")).count()
