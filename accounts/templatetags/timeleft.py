from datetime import datetime

from django import template

register = template.Library()


@register.filter
def left_until(moment: datetime, now: datetime) -> str:
    """The time from ``now`` to ``moment`` in words: ``3 days`` (rounded, once a whole day or
    more is left), ``5 hours`` or ``12 minutes`` (rounded down, at least one)."""
    seconds = int((moment - now).total_seconds())
    if seconds >= 86400:
        count, unit = round(seconds / 86400), "day"
    elif seconds >= 3600:
        count, unit = seconds // 3600, "hour"
    else:
        count, unit = max(1, seconds // 60), "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"
