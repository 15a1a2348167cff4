"""Rows for admin tests: a tenant with both connections, catalogs, mappings, runs, holds and audit rows."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

import audit
from audit.models import ApiCall
from connections.models import ConnectionStatus, JaggaerConnection, QboConnection
from core.actor import SYSTEM
from sync.models import (
    BillLink,
    Cursor,
    Hold,
    JaggaerCatalogItem,
    Mapping,
    PurchaseOrderLink,
    QboCatalogItem,
    SyncRun,
    SyncSettings,
    VendorLink,
)
from tenants.models import PartnerAPIKey
from tests.factories import TenantFactory

STAFF_PASSWORD = "pw-for-staff-1"


def populate(tenant, *, n: int = 1, jaggaer_secret: str = "jaggaer-secret-value-0001",
             qbo_tokens: tuple[str, str] = ("qbo-access-token-0001", "qbo-refresh-token-0001")) -> dict:
    """`n` rows of every kind the admin lists, for `tenant` (connections once: they are one-to-one)."""
    now = timezone.now()
    made: dict = {}
    made["jaggaer"] = JaggaerConnection.objects.get_or_create(tenant=tenant, defaults={
        "api_base_url": "https://jaggaer.example", "client_id": "client-id-4711", "client_secret": jaggaer_secret,
        "access_token": f"{jaggaer_secret}-token", "status": ConnectionStatus.CONNECTED})[0]
    made["qbo"] = QboConnection.objects.get_or_create(tenant=tenant, defaults={
        "realm_id": f"9341{abs(hash(tenant.pk)) % 10**8:08d}", "access_token": qbo_tokens[0],
        "refresh_token": qbo_tokens[1], "status": ConnectionStatus.CONNECTED,
        "refresh_token_expires_at": now + dt.timedelta(days=90)})[0]
    SyncSettings.objects.get_or_create(tenant=tenant)
    start = SyncRun.objects.for_tenant(tenant).count()
    for i in range(start, start + n):
        run = SyncRun.objects.create(tenant=tenant, trigger=SyncRun.Trigger.API, status=SyncRun.Status.SUCCEEDED,
                                     started_at=now, finished_at=now + dt.timedelta(seconds=75),
                                     counts={"suppliers": {"created": 3, "held": 1, "failed": 1}})
        item = QboCatalogItem.objects.create(tenant=tenant, kind="gl_account", qbo_id=f"{100 + i}",
                                             name=f"Expense {i}", number=f"6{i:03d}", account_type="Expense")
        QboCatalogItem.objects.create(tenant=tenant, kind="department", qbo_id=f"{200 + i}", name=f"Plant {i}")
        JaggaerCatalogItem.objects.create(tenant=tenant, kind="gl_account", code=f"6{i:03d}", name=f"Expense {i}")
        Mapping.objects.create(tenant=tenant, kind="gl_account", code=f"6{i:03d}", qbo_item=item,
                               state=Mapping.State.MAPPED)
        Mapping.objects.create(tenant=tenant, kind="gl_account", code=f"7{i:03d}", state=Mapping.State.UNMAPPED)
        Hold.objects.create(tenant=tenant, entity="suppliers", source_id=f"S-{i}", reason="gl_unmapped",
                            waits_on=[f"7{i:03d}"], record={"companyId": f"S-{i}"}, source_digest="d", last_run=run)
        VendorLink.objects.create(tenant=tenant, jaggaer_company_id=f"C-{i}", qbo_vendor_id=f"{300 + i}",
                                  display_name=f"Vendor {i}")
        PurchaseOrderLink.objects.create(tenant=tenant, jaggaer_po_id=f"PO-{i}", po_number=f"45000{i}",
                                         doc_number=f"45000{i}", qbo_po_id=f"{400 + i}")
        BillLink.objects.create(tenant=tenant, jaggaer_invoice_id=f"INV-{i}", invoice_number=f"I-{i}",
                                qbo_entity="Bill", qbo_id=f"{500 + i}")
        Cursor.objects.create(tenant=tenant, entity=f"entity-{i}")
        audit.record_events([{"tenant_id": tenant.pk, "run_id": run.pk, "entity": "suppliers",
                              "source_id": f"S-{i}", "outcome": outcome, "reason": reason}
                             for outcome, reason in (("created", ""), ("held", "gl_unmapped"),
                                                     ("failed", "qbo_rejected"))])
        audit.action("mapping.set", actor=SYSTEM, tenant=tenant, target_type="mapping",
                     target_id=str(uuid.uuid4()), before={"qbo_id": None}, after={"qbo_id": "1"})
        ApiCall.objects.create(tenant=tenant, run_id=run.pk, system="qbo", method="POST", path="/v3/company/1/batch",
                               status=200, attempt=1, duration_ms=120, created_at=now)
    made["run"] = SyncRun.objects.for_tenant(tenant).first()
    return made


def more_tenants(n: int) -> list:
    """`n` tenants, each of its own partner with an API key, each populated."""
    out = []
    for _ in range(n):
        tenant = TenantFactory()
        PartnerAPIKey.objects.create_key(partner=tenant.partner, name="key")
        populate(tenant)
        out.append(tenant)
    return out
