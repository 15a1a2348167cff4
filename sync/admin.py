"""Admin for support staff. Each feature keeps its own admin module; importing them here is what makes
Django's admin autodiscovery (which imports `sync.admin`) register them."""

from sync.holds import admin as holds_admin  # noqa: F401
from sync.links import admin as links_admin  # noqa: F401
from sync.mappings import admin as mappings_admin  # noqa: F401
from sync.runs import admin as runs_admin  # noqa: F401
