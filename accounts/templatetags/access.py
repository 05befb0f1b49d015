"""``{% if request.identity|can:"serviceaccounts:write" %}``: show only what the caller may use.

The decision is ``accounts.access.has_permission``'s, the same one the views enforce.
"""

from django import template

from accounts.access import Identity, has_permission

register = template.Library()


@register.filter
def can(identity: Identity | None, permission: str) -> bool:
    return identity is not None and has_permission(identity, permission)
