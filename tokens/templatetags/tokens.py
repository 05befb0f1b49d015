from datetime import datetime

from django import template

from tokens.models import ServiceAccountToken

register = template.Library()


@register.filter
def expired(token: ServiceAccountToken, now: datetime) -> bool:
    return token.is_expired(now)


@register.filter
def expiring_soon(token: ServiceAccountToken, now: datetime) -> bool:
    return token.is_expiring_soon(now)
