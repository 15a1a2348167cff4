"""What a connection's change of state tells the partner: `connection.connected`, `connection.needs_reauthorization`
and `connection.error`, emitted only when the status changes, in the transaction that changes it."""

from __future__ import annotations

import webhooks
from connections.models import ConnectionStatus

_EVENTS = {
    ConnectionStatus.CONNECTED: "connection.connected",
    ConnectionStatus.NEEDS_REAUTHORIZATION: "connection.needs_reauthorization",
    ConnectionStatus.ERROR: "connection.error",
}

_ACTIONS = {
    ("qbo", ConnectionStatus.CONNECTED): "Nothing to do: syncs can write to QuickBooks.",
    ("qbo", ConnectionStatus.NEEDS_REAUTHORIZATION): "Ask the customer to connect QuickBooks again "
                                                     "(POST /api/v1/tenants/{tenant_id}/connections/qbo/authorize).",
    ("qbo", ConnectionStatus.ERROR): "Check the connection (POST /api/v1/tenants/{tenant_id}/connections/qbo/ping); "
                                     "connect QuickBooks again if it says so.",
    ("jaggaer", ConnectionStatus.CONNECTED): "Nothing to do: syncs can read from JAGGAER.",
    ("jaggaer", ConnectionStatus.NEEDS_REAUTHORIZATION): "Set the JAGGAER credentials again "
                                                         "(PUT /api/v1/tenants/{tenant_id}/connections/jaggaer).",
    ("jaggaer", ConnectionStatus.ERROR): "Check the JAGGAER address and credentials "
                                         "(PUT /api/v1/tenants/{tenant_id}/connections/jaggaer), then ping it.",
}


def connection_status_changed(*, tenant_id, system: str, status: str, code: str = "") -> None:
    """Emit the event of a connection that has just moved to `status` (other statuses say nothing)."""
    event_type = _EVENTS.get(status)
    if event_type is None:
        return
    webhooks.emit(event_type=event_type, tenant=tenant_id, data={
        "tenant_id": str(tenant_id), "system": system, "status": str(status),
        "code": "" if status == ConnectionStatus.CONNECTED else code,
        "action": _ACTIONS[(system, status)].format(tenant_id=tenant_id)})
