from datetime import datetime

from django import template

from tokens.models import ServiceAccountToken

register = template.Library()


@register.filter
def expired(token: ServiceAccountToken, now: datetime) -> bool:
    return token.is_expired(now)


@register.filter
def days_left(token: ServiceAccountToken, now: datetime) -> int | None:
    """Whole days until the token expires, within the last week only."""
    return token.days_until_expiration(now)
