"""Every time the admin shows names its zone: the stock lists and pages too, not only the console's own."""

import datetime as dt

import pytest
from django.utils import formats, timezone

from sync.models import SyncRun

pytestmark = pytest.mark.django_db


def test_the_date_formats_name_the_zone():
    moment = timezone.make_aware(dt.datetime(2026, 11, 30, 14, 5), dt.UTC)
    assert formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") == "Nov. 30, 2026, 2:05 p.m. UTC"
    assert formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT").endswith("2:05 p.m. UTC")


def test_a_stock_admin_list_shows_times_with_their_zone(superuser_client, tenant):
    run = SyncRun.objects.create(tenant=tenant, status=SyncRun.Status.SUCCEEDED)
    SyncRun.objects.filter(pk=run.pk).update(created_at=dt.datetime(2026, 11, 30, 14, 5, tzinfo=dt.UTC))
    html = superuser_client.get("/admin/sync/syncrun/").content.decode()
    assert "Nov. 30, 2026, 2:05 p.m. UTC" in html
