"""A tenant's dashboard for support staff: records written, held and failed per day, drawn as an SVG.

The chart is plain server-rendered SVG: no script, no font or library fetched from anywhere.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db.models import Count, Q, Value
from django.db.models.functions import Concat, TruncDate
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from audit.models import RecordEvent
from core.outcomes import Outcome

_RECORD = Concat("entity", Value(":"), "source_id")   # one record, whatever its number of audit rows

# What each bar segment counts, bottom to top, with its colour.
SERIES = (
    ("synced", "written (created or updated)", "#2e7d32", (Outcome.CREATED, Outcome.UPDATED)),
    ("held", "held", "#ef8f00", (Outcome.HELD,)),
    ("failed", "failed", "#c62828", (Outcome.FAILED,)),
)


@dataclass
class Day:
    date: dt.date
    synced: int = 0
    held: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.synced + self.held + self.failed


def record_outcomes_by_day(*, tenant, days: int = 30, now: dt.datetime | None = None) -> list[Day]:
    """One `Day` per calendar day (the tenant's time zone) of the last `days`, oldest first; one query. A day counts
    records, not audit rows: a record held by three runs of a day is one held record that day."""
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    today = timezone.localtime(now or timezone.now(), zone).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    by_date = {first + dt.timedelta(days=n): Day(first + dt.timedelta(days=n)) for n in range(days)}
    series_of = {outcome: name for name, _, _, outcomes in SERIES for outcome in outcomes}
    rows = (RecordEvent.objects.for_tenant(tenant)
            .filter(created_at__gte=start, outcome__in=list(series_of))
            .annotate(day=TruncDate("created_at", tzinfo=zone))
            .values("day", "outcome").annotate(n=Count(_RECORD, distinct=True)).order_by())
    for row in rows:
        day = by_date.get(row["day"])
        if day is not None:
            setattr(day, series_of[row["outcome"]], getattr(day, series_of[row["outcome"]]) + row["n"])
    return list(by_date.values())


def record_outcome_totals(*, tenant, days: int = 30, now: dt.datetime | None = None) -> dict[str, int]:
    """How many distinct records were written, held and failed over the last `days` (one query): a record held
    every day of the month is one held record, not thirty."""
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    first = timezone.localtime(now or timezone.now(), zone).date() - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    return (RecordEvent.objects.for_tenant(tenant).filter(created_at__gte=start).order_by()
            .aggregate(**{name: Count(_RECORD, distinct=True, filter=Q(outcome__in=outcomes))
                          for name, _, _, outcomes in SERIES}))


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def outcomes_chart_svg(days: list[Day], *, width: int = 760, height: int = 260) -> SafeString:
    """Stacked bars, one per day; each segment carries a <title> with its number for a hover tooltip."""
    left, right, top, bottom = 48, 12, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_ceiling(max((d.total for d in days), default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="outcomes-chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="outcomes-chart-title">',
             '<title id="outcomes-chart-title">Records written, held and failed per day</title>',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
    steps = min(4 if str(peak).startswith("2") else 5, peak)   # whole numbers on the axis
    for n in range(steps + 1):
        value = peak * n / steps
        y = top + plot_h - plot_h * n / steps
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#555">{value:g}</text>')
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for name, label, colour, _ in SERIES:
            count = getattr(day, name)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(f'<rect class="bar bar-{name}" data-date="{day.date.isoformat()}" data-count="{count}" '
                         f'x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{day.date:%b %d}: {count} {escape(label)}</title></rect>')
        if i % 5 == 0 or i == len(days) - 1:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" font-size="11" '
                         f'text-anchor="middle" fill="#555">{day.date:%b %d}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#999"/>')
    legend_x = left
    for _name, label, colour, _ in SERIES:
        parts.append(f'<rect x="{legend_x}" y="{height - 22}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{legend_x + 16}" y="{height - 12}" font-size="12" fill="#333">{escape(label)}</text>')
        legend_x += 24 + 7 * len(label)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (numbers, dates and our own escaped labels only)
