"""Template helpers of the support console."""

import datetime as dt
import zoneinfo

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def when(value, zone: str = "UTC"):
    """A time in the tenant's zone with the zone named, UTC on hover: `{{ row.created_at|when:tenant.time_zone }}`."""
    if not isinstance(value, dt.datetime):
        return "-"
    try:
        local = value.astimezone(zoneinfo.ZoneInfo(zone or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        local = value.astimezone(dt.UTC)
    utc = value.astimezone(dt.UTC)
    return format_html('<time datetime="{}" title="{} UTC">{} {}</time>', utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       utc.strftime("%Y-%m-%d %H:%M:%S"), local.strftime("%Y-%m-%d %H:%M:%S"), local.tzname())


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
