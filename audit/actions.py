"""The one vocabulary of people's actions: every code `audit.action` writes, what it means, who writes it.

`audit.action` refuses a code that is not here, and a test checks that docs/AUDIT.md lists exactly
these codes. A code is dotted lowercase words in the present tense: `<thing>.<verb>`.
"""

from __future__ import annotations

from typing import NamedTuple


class ActionCode(NamedTuple):
    meaning: str
    written_by: str


ACTIONS: dict[str, ActionCode] = {
    # tenants
    "partner.create": ActionCode("a partner was created with its first API key (never the key)",
                                 "tenants.services.partner_create"),
    "partner.update": ActionCode("a partner's name, active flag or return-URL origins changed",
                                 "tenants.services.partner_update"),
    "partner.delete": ActionCode("a partner without tenants was deleted, with its keys",
                                 "tenants.services.partner_delete"),
    "api_key.create": ActionCode("a partner got a new API key (its prefix, never the key)",
                                 "tenants.services.api_key_create"),
    "api_key.update": ActionCode("an API key's name or expiry date changed", "tenants.services.api_key_update"),
    "api_key.revoke": ActionCode("an API key was revoked: it no longer authenticates",
                                 "tenants.services.api_key_update"),
    "api_key.delete": ActionCode("an API key was deleted", "tenants.services.api_key_delete"),
    "tenant.create": ActionCode("a tenant was onboarded", "tenants.services.tenant_create"),
    "tenant.update": ActionCode("a tenant's name, slug or partner changed", "tenants.services.tenant_update"),
    "tenant.schedule.update": ActionCode("the daily sync's time zone or hour changed, or it was paused or resumed",
                                         "tenants.services.tenant_update"),
    "tenant.activate": ActionCode("a tenant was reactivated",
                                  "tenants.services.tenant_activate, tenants.services.tenant_update"),
    "tenant.deactivate": ActionCode("a tenant was deactivated: nothing runs for it",
                                    "tenants.services.tenant_deactivate, tenants.services.tenant_update"),
    "tenant.delete": ActionCode("a tenant was deleted with everything it owned (the row keeps its id)",
                                "tenants.services.tenant_delete"),
    # connections
    "connection.jaggaer.configure": ActionCode("JAGGAER credentials or address were set (whether a secret is set, "
                                               "never its value)", "connections.jaggaer.jaggaer_connection_configure"),
    "connection.jaggaer.clear": ActionCode("the JAGGAER credentials were removed",
                                           "connections.jaggaer.jaggaer_connection_clear"),
    "connection.qbo.authorize": ActionCode("connecting QuickBooks was started (an Intuit consent URL was issued)",
                                           "connections.qbo_authorization.qbo_authorization_start"),
    "connection.qbo.connect": ActionCode("Intuit's redirect came back for this tenant, connected or not "
                                         "(`after.ok`, `reason`; actor: system)",
                                         "connections.qbo_authorization.qbo_authorization_complete"),
    "connection.qbo.disconnect": ActionCode("the QuickBooks tokens were revoked at Intuit and forgotten",
                                            "connections.qbo_authorization.qbo_connection_disconnect"),
    "connection.qbo.refresh": ActionCode("the QuickBooks access token was refreshed on request, and whether it worked",
                                         "connections.tokens.QboTokenProvider.refresh"),
    "connection.ping": ActionCode("a connection was tested with the lightest real call, and whether it answered",
                                  "connections.health.connection_ping"),
    # sync
    "sync.request": ActionCode("a sync run was requested", "sync.runs.lifecycle.sync_request"),
    "sync.cancel": ActionCode("a run was asked to stop", "sync.runs.lifecycle.sync_run_cancel"),
    "mapping.set": ActionCode("a person mapped a JAGGAER code to a QuickBooks account or department",
                              "sync.mappings.services.mapping_set"),
    "mapping.clear": ActionCode("a person cleared a mapping", "sync.mappings.services.mapping_set"),
    "mapping.bulk_set": ActionCode("several mappings were set at once", "sync.mappings.services.mappings_bulk_set"),
    "mapping.auto_match": ActionCode("auto-matching was run again (only the mappings it changed)",
                                     "sync.mappings.services.mappings_auto_match"),
    "sync_settings.update": ActionCode("the default AP account or the department policy changed",
                                       "sync.mappings.services.sync_settings_update"),
    "link.forget": ActionCode("what a JAGGAER record was written as in QuickBooks was forgotten",
                              "sync.links.services.link_forget"),
    "record.replay": ActionCode("records were replayed (read again from JAGGAER and written)",
                                "sync.runs.lifecycle.replay_request"),
    "run.replay_failed": ActionCode("the failed and held records of a run were replayed",
                                    "sync.runs.lifecycle.replay_request"),
    # webhooks
    "webhook_endpoint.create": ActionCode(
        "a partner added a webhook endpoint (URL, event types; never the secret)",
        "webhooks.services.endpoint_create"),
    "webhook_endpoint.update": ActionCode(
        "a webhook endpoint's URL, description, event types or enabled flag changed",
        "webhooks.services.endpoint_update"),
    "webhook_endpoint.delete": ActionCode(
        "a webhook endpoint was deleted with its delivery log", "webhooks.services.endpoint_delete"),
    "webhook_endpoint.rotate_secret": ActionCode(
        "a webhook endpoint got a new signing secret; the previous one signs until the overlap ends (never a secret)",
        "webhooks.services.endpoint_rotate_secret"),
    "webhook_endpoint.disable": ActionCode(
        "a webhook endpoint was disabled after failing for too long (actor: system)",
        "webhooks.services.delivery_attempt"),
    "webhook_delivery.redeliver": ActionCode(
        "an event was queued again for a webhook endpoint", "webhooks.services.delivery_redeliver"),
    # reports
    "fit_report.request": ActionCode("a fit report (the next sync in dry-run mode) was asked for",
                                     "reports.fit.fit_report_request"),
    "reconciliation.request": ActionCode("a reconciliation of JAGGAER with QuickBooks for a period was asked for",
                                         "reports.reconcile.reconciliation_request"),
}


def action_code_check(code: str) -> None:
    """ValueError for a code that is not in the vocabulary."""
    if code not in ACTIONS:
        raise ValueError(f"action code {code!r} is not registered in audit/actions.py (and docs/AUDIT.md); "
                         f"add it there with its meaning")
