from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from sync.runs.schedule import jitter_seconds, next_run_at

TENANT = UUID("8f0d1f7e-3a5b-4c2e-9d1a-0b6c7e8f9a01")


def test_jitter_is_stable_per_tenant_and_inside_the_window():
    assert jitter_seconds(TENANT, 900) == jitter_seconds(TENANT, 900)
    assert 0 <= jitter_seconds(TENANT, 900) < 900
    assert jitter_seconds(TENANT, 0) == 0


def test_a_thousand_tenants_at_the_same_hour_spread_over_the_window():
    starts = {jitter_seconds(UUID(int=n), 900) // 60 for n in range(1000)}
    assert len(starts) == 15


def test_the_next_run_is_at_the_local_hour_in_the_tenants_zone():
    after = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 00:00 in Chicago
    run = next_run_at(tenant_id=TENANT, time_zone="America/Chicago", hour=2, after=after, jitter_window_seconds=0)
    assert run == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_once_the_hour_has_passed_the_next_run_is_tomorrow():
    after = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 03:00 in Chicago
    run = next_run_at(tenant_id=TENANT, time_zone="America/Chicago", hour=2, after=after, jitter_window_seconds=0)
    assert run == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone, expected", [
    ("Pacific/Kiritimati", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),   # UTC+14: 02:00 on the 26th
    ("Pacific/Pago_Pago", datetime(2026, 11, 25, 13, 0, tzinfo=UTC)),    # UTC-11: 02:00 on the 25th
])
def test_zones_on_both_sides_of_the_date_line(zone, expected):
    after = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    assert next_run_at(tenant_id=TENANT, time_zone=zone, hour=2, after=after, jitter_window_seconds=0) == expected


def test_a_local_hour_skipped_by_daylight_saving_still_runs_that_day():
    after = datetime(2026, 3, 8, 0, 0, tzinfo=UTC)  # US spring forward: 02:00-03:00 does not exist
    run = next_run_at(tenant_id=TENANT, time_zone="America/New_York", hour=2, after=after, jitter_window_seconds=0)
    assert run.date() == datetime(2026, 3, 8).date()
    assert timedelta(0) < run - after < timedelta(days=1)


def test_jitter_is_added_to_the_run_time():
    after = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    plain = next_run_at(tenant_id=TENANT, time_zone="UTC", hour=2, after=after, jitter_window_seconds=0)
    jittered = next_run_at(tenant_id=TENANT, time_zone="UTC", hour=2, after=after, jitter_window_seconds=900)
    assert jittered - plain == timedelta(seconds=jitter_seconds(TENANT, 900))
