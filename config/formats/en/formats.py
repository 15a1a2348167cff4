"""Date formats for English pages: every time the admin shows carries its zone (the server's, UTC).

Django's own "en" formats, with the zone added where a time is shown; the console's own pages show the
tenant's local time with UTC on hover (console/templatetags/console.py)."""

DATETIME_FORMAT = "N j, Y, P T"
SHORT_DATETIME_FORMAT = "m/d/Y P T"
TIME_FORMAT = "P T"
