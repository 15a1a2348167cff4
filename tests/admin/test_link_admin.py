"""Support staff forget a link whose QuickBooks object was deleted there; read-only staff cannot."""

import pytest

from audit.models import Action
from sync.models import BillLink, PurchaseOrderLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def links(tenant):
    po = PurchaseOrderLink.objects.create(tenant=tenant, jaggaer_po_id="PO-1", po_number="4500001",
                                          doc_number="4500001", qbo_po_id="41")
    bill = BillLink.objects.create(tenant=tenant, jaggaer_invoice_id="INV-1", invoice_number="I-1",
                                   qbo_entity="Bill", qbo_id="51")
    return po, bill


def test_support_admin_forgets_links_and_it_is_audited(support_admin_client, links, tenant):
    po, bill = links
    support_admin_client.post("/admin/sync/purchaseorderlink/", {"action": "forget", "_selected_action": [po.pk]})
    support_admin_client.post("/admin/sync/billlink/", {"action": "forget", "_selected_action": [bill.pk]})
    assert not PurchaseOrderLink.objects.exists() and not BillLink.objects.exists()
    actions = Action.objects.filter(tenant=tenant, action="link.forget").order_by("created_at")
    assert [(a.target_id, a.actor_kind) for a in actions] == [("PO-1", "staff_user"), ("INV-1", "staff_user")]
    assert actions[0].before["qbo_po_id"] == "41"


def test_read_only_staff_cannot_forget_a_link(read_only_client, links):
    po, _ = links
    read_only_client.post("/admin/sync/purchaseorderlink/", {"action": "forget", "_selected_action": [po.pk]})
    assert PurchaseOrderLink.objects.filter(pk=po.pk).exists()
