"""``{% if request.identity|can:"serviceaccounts:write" %}``: show only what the caller may use.

The decisions are ``accounts.access``'s (``has_permission``, ``can_manage_account``), the same
ones the views enforce.
"""

from django import template

from accounts.access import Identity, can_manage_account, has_permission
from accounts.models import ServiceAccount

register = template.Library()


@register.filter
def can(identity: Identity | None, permission: str) -> bool:
    return identity is not None and has_permission(identity, permission)


@register.filter
def can_manage(identity: Identity | None, account: ServiceAccount) -> bool:
    """``{% if request.identity|can_manage:sa %}``: the account's edit, disable, delete, token
    and permission actions."""
    return identity is not None and can_manage_account(identity, account)
