from datetime import datetime

from django import template
from django.utils.safestring import mark_safe

from tokens.models import ServiceAccountToken

register = template.Library()


@register.filter
def expired(token: ServiceAccountToken, now: datetime) -> bool:
    return token.is_expired(now)


@register.simple_tag
def expiry(token: ServiceAccountToken, now: datetime) -> str:
    """ "Never", "Expired" (with a warning), "Expires in N days" within a week, else the date."""
    if token.expires_at is None:
        return "Never"
    if token.is_expired(now):
        return mark_safe('<span class="badge badge-warning">⚠ Expired</span>')
    days = token.days_until_expiration(now)
    if days is not None:
        return f"Expires in {days} day{'' if days == 1 else 's'}"
    return token.expires_at.strftime("%Y-%m-%d")
