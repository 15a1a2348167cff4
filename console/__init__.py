"""The support console's cross-app admin: the parts of an app's admin that need the apps above it.

Each app's admin shows and edits that app's own rows through its services (tenants/admin.py: partners,
tenants, keys; audit/admin.py: the read-only audit tables). What a support person needs on top of them
reaches into the apps above: the tenants list shows both connections, the last run and the held records,
pings, starts a sync, opens a dashboard and re-authorizes QuickBooks; the record audit replays records.
Those parts live here, registered over the apps' own ModelAdmins (this app comes after them in
INSTALLED_APPS). Like config/urls.py it may import every app; no app imports it.
"""
