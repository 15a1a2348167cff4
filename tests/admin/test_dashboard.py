"""The per-tenant dashboard: records written, held and failed per day in the tenant's time zone, as SVG."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.urls import reverse

import audit
from audit.models import RecordEvent
from sync.dashboard import Day, _nice_ceiling, outcomes_chart_svg, record_outcomes_by_day

pytestmark = pytest.mark.django_db
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
NOW = dt.datetime(2026, 3, 20, 15, 0, tzinfo=CHICAGO)


def events_at(tenant, when: dt.datetime, **outcomes):
    audit.record_events([{"tenant_id": tenant.pk, "entity": "invoices", "source_id": f"{when}-{outcome}-{n}",
                          "outcome": outcome} for outcome, count in outcomes.items() for n in range(count)])
    RecordEvent.objects.filter(created_at__gt=when).update(created_at=when)


def test_outcomes_are_counted_per_local_day_over_thirty_days(tenant, outsider_tenant):
    assert tenant.time_zone == "America/Chicago"
    events_at(tenant, NOW - dt.timedelta(days=40), created=5)                       # too old
    events_at(tenant, dt.datetime(2026, 3, 18, 23, 30, tzinfo=CHICAGO), created=2, updated=1, unchanged=4)
    events_at(tenant, dt.datetime(2026, 3, 19, 0, 30, tzinfo=CHICAGO), held=3)       # 05:30 UTC, still the 19th
    events_at(tenant, NOW, failed=1, skipped=2)
    events_at(outsider_tenant, NOW, failed=7)
    days = record_outcomes_by_day(tenant=tenant, days=30, now=NOW)
    assert len(days) == 30 and days[0].date == dt.date(2026, 2, 19) and days[-1].date == dt.date(2026, 3, 20)
    busy = {d.date: (d.synced, d.held, d.failed) for d in days if d.total}
    assert busy == {dt.date(2026, 3, 18): (3, 0, 0), dt.date(2026, 3, 19): (0, 3, 0),
                    dt.date(2026, 3, 20): (0, 0, 1)}


def test_the_chart_draws_one_segment_per_outcome_and_day_scaled_to_a_round_peak():
    days = [Day(dt.date(2026, 3, 1) + dt.timedelta(days=n)) for n in range(30)]
    days[3].synced, days[3].held, days[3].failed = 30, 8, 2
    days[10].synced = 4
    svg = str(outcomes_chart_svg(days))
    bars = re.findall(r'class="bar bar-(\w+)" data-date="([\d-]+)" data-count="(\d+)"', svg)
    assert sorted(bars) == sorted([("synced", "2026-03-04", "30"), ("held", "2026-03-04", "8"),
                                   ("failed", "2026-03-04", "2"), ("synced", "2026-03-11", "4")])
    assert ">50</text>" in svg          # peak 40 -> axis up to 50
    heights = {(n, d): float(h) for n, d, h in re.findall(
        r'bar-(\w+)" data-date="([\d-]+)" data-count="\d+" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"',
        svg)}
    assert heights[("synced", "2026-03-04")] == pytest.approx(heights[("synced", "2026-03-11")] * 30 / 4, rel=0.01)
    assert "<script" not in svg and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_an_empty_month_still_draws_an_axis():
    svg = str(outcomes_chart_svg([Day(dt.date(2026, 3, 1))]))
    assert "bar-" not in svg and "<svg" in svg and ">1</text>" in svg


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (40, 50), (501, 1000)])
def test_the_axis_peak_is_a_round_number(value, ceiling):
    assert _nice_ceiling(value) == ceiling


def test_the_dashboard_page_shows_the_chart_the_alignment_report_and_recent_runs(superuser_client, tenant):
    from tests.admin.support import populate

    populate(tenant, n=2)
    html = superuser_client.get(reverse("admin:tenants_tenant_dashboard", args=[tenant.pk])).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="outcomes-chart"' in html
    assert "2 written, 2 held, 2 failed" in html
    unaligned = html[html.index('id="mlc-unaligned"'):html.index('id="mlc-unused"')]
    assert "7000" in unaligned and "7001" in unaligned and "6000" not in unaligned
    assert html.count('href="/admin/sync/syncrun/') >= 2


@pytest.mark.parametrize(("peak", "ticks"), [(1, [0, 1]), (2, [0, 1, 2]), (20, [0, 5, 10, 15, 20]),
                                             (50, [0, 10, 20, 30, 40, 50])])
def test_the_axis_is_labelled_in_whole_numbers(peak, ticks):
    day = Day(dt.date(2026, 3, 1), synced=peak)
    labels = re.findall(r'text-anchor="end" fill="#555">([^<]+)</text>', str(outcomes_chart_svg([day])))
    assert labels == [str(t) for t in ticks]
