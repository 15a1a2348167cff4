"""Query-string filter fields shared by the API: datetimes PostgreSQL can always compare with."""

import datetime as dt

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

MAX_OFFSET = dt.timedelta(hours=14)  # the widest UTC offset in use (Kiribati); PostgreSQL refuses beyond ±15:59


def _bounded(value):
    if value is None or value.utcoffset() is None:
        return value
    if abs(value.utcoffset()) > MAX_OFFSET:
        raise forms.ValidationError("The UTC offset must be between -14:00 and +14:00 (e.g. 2025-01-01T00:00:00Z).",
                                    code="invalid")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise forms.ValidationError("The date is out of range; use one between years 1 and 9999.", code="invalid")


class BoundedDateTimeField(forms.DateTimeField):
    def clean(self, value):
        return _bounded(super().clean(value))


class BoundedIsoDateTimeField(IsoDateTimeField):
    def clean(self, value):
        return _bounded(super().clean(value))


class DateTimeFilter(django_filters.DateTimeFilter):
    field_class = BoundedDateTimeField


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField
