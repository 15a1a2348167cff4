"""Runs, cursors, holds, what we wrote (links), both catalogs and the mappings between them."""

import uuid

from django.db import models

from core.tenancy import TenantOwnedManager, TenantOwnedModel, TenantOwnedQuerySet


class Kind(models.TextChoices):
    """What a catalog row or a mapping is about: a GL account (QBO Account) or a department."""

    GL_ACCOUNT = "gl_account", "GL account"
    DEPARTMENT = "department", "department"


# A bill or PO line never posts to the AP account it is owed on, nor to an A/R account.
NOT_POSTABLE_SUBTYPES = ("AccountsPayable", "AccountsReceivable")
# Accounts QuickBooks would take on a bill line but a purchase does not belong on: the editor does not offer them.
NOT_OFFERED_CLASSIFICATIONS = ("Revenue", "Equity", "Liability")
NOT_OFFERED_TYPES = ("Bank", "Income", "Other Income", "Equity", "Credit Card", "Accounts Receivable")


class QboCatalogQuerySet(TenantOwnedQuerySet):
    """Which imported QBO items may be used where: the one home of account eligibility."""

    def usable(self):
        return self.filter(active=True, present=True)

    def postable(self, kind: str):
        """What a mapping of `kind` may point to: usable items, and for accounts none of AP or A/R."""
        items = self.filter(kind=kind).usable()
        if kind == Kind.GL_ACCOUNT:
            items = items.exclude(account_sub_type__in=NOT_POSTABLE_SUBTYPES)
        return items

    def offered(self, kind: str):
        """What the mapping editor offers a person: postable items, for accounts only those a purchase posts to
        (expense, cost of goods sold, asset accounts), never Bank, Income, Equity or liability accounts."""
        items = self.postable(kind)
        if kind == Kind.GL_ACCOUNT:
            items = items.exclude(classification__in=NOT_OFFERED_CLASSIFICATIONS).exclude(
                account_type__in=NOT_OFFERED_TYPES)
        return items

    def ap_accounts(self):
        """Accounts a bill or PO may be owed on (`APAccountRef`): usable Liability accounts of subtype AP."""
        return self.filter(kind=Kind.GL_ACCOUNT, classification="Liability",
                           account_sub_type="AccountsPayable").usable()


class SyncRun(TenantOwnedModel):
    class Trigger(models.TextChoices):
        COMMAND = "command"
        API = "api"
        SCHEDULE = "schedule"
        REPLAY = "replay"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    full = models.BooleanField(default=False)
    entities = models.JSONField(default=list, blank=True, help_text="Steps to run; empty means all.")
    # A replay's records, {entity: [source id, ...]} in step order; empty for a sync.
    targets = models.JSONField(default=dict, blank=True, help_text="A replay's records per entity; empty for a sync.")
    # {"suppliers": {"created": 3, "held": 1, ...}, "catalogs": {...}}
    counts = models.JSONField(default=dict, blank=True)
    error_system = models.CharField(max_length=20, blank=True, default="")
    error_code = models.CharField(max_length=60, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    request_id = models.CharField(max_length=128, blank=True, default="", db_index=True,
                                  help_text="X-Request-Id of the API request that asked for the run (empty if none).")
    # Progress of a running run, written as its batches commit.
    current_step = models.CharField(max_length=40, blank=True, default="")
    step_seen = models.PositiveIntegerField(default=0, help_text="Records of the current step handled so far.")
    step_total = models.PositiveIntegerField(null=True, blank=True,
                                             help_text="JAGGAER's count of the step's records, when it gives one.")
    step_started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="When the progress was last written.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)


    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"])]

    def __str__(self) -> str:
        return f"run {self.id} ({self.status})"


class Cursor(TenantOwnedModel):
    """High-water mark of JAGGAER's lastModTime/lastUpdate per tenant and entity."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="sync_cursors")
    entity = models.CharField(max_length=40)
    high_water_mark = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "entity"], name="sync_cursor_unique")]

    def __str__(self) -> str:
        return f"{self.entity} @ {self.high_water_mark}"


class Hold(TenantOwnedModel):
    """A record that cannot be written yet; planned again by a run once what it waits on may have changed
    (sync/holds/due.py), deleted once written."""

    # no index of its own: the constraints' indexes start with the tenant (one index less per row written)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="sync_holds",
                               db_index=False)
    entity = models.CharField(max_length=40)
    source_id = models.CharField(max_length=200)
    reason = models.CharField(max_length=60)
    detail = models.TextField(blank=True, default="")
    # The codes (GL code, department code, company id...) whose fix would release it.
    waits_on = models.JSONField(default=list, blank=True)
    record = models.JSONField(help_text="The source record as last read, so a retry needs no fetch.")
    source_digest = models.CharField(max_length=64)
    # The step's transform version when held: a new version plans every hold of the step again.
    step_version = models.CharField(max_length=40, blank=True, default="")
    last_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_held_at = models.DateTimeField(auto_now_add=True)
    last_held_at = models.DateTimeField(auto_now=True)


    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "entity", "source_id"], name="sync_hold_unique")]
        indexes = [models.Index(fields=["tenant", "reason"])]

    def __str__(self) -> str:
        return f"{self.entity} {self.source_id} held: {self.reason}"


class VendorLink(TenantOwnedModel):
    """JAGGAER supplier (companyId) -> the QBO vendor we linked or created for it."""

    # no index of its own: the constraints' indexes start with the tenant (one index less per row written)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="vendor_links",
                               db_index=False)
    jaggaer_company_id = models.CharField(max_length=100)
    qbo_vendor_id = models.CharField(max_length=40)
    display_name = models.CharField(max_length=500)
    source_digest = models.CharField(max_length=64, blank=True, default="")
    # Fingerprint of what we sent (the mapped vendor fields): a record whose mapping did not change writes nothing.
    content_digest = models.CharField(max_length=64, blank=True, default="")
    # Set when QBO reports the vendor made inactive, deleted or merged (webhook or CDC): a person looks.
    attention = models.CharField(max_length=40, blank=True, default="")
    attention_detail = models.TextField(blank=True, default="")
    attention_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "jaggaer_company_id"], name="sync_vendorlink_company"),
            models.UniqueConstraint(fields=["tenant", "qbo_vendor_id"], name="sync_vendorlink_vendor"),
        ]

    def __str__(self) -> str:
        return f"{self.jaggaer_company_id} -> vendor {self.qbo_vendor_id}"


class QboCatalogItem(TenantOwnedModel):
    """A QBO Account (kind gl_account) or Department as last imported; never deleted, `present` goes false."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="qbo_catalog")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    qbo_id = models.CharField(max_length=40)
    name = models.CharField(max_length=255)
    fully_qualified_name = models.CharField(max_length=1000, blank=True, default="")
    number = models.CharField(max_length=40, blank=True, default="", help_text="Account AcctNum.")
    account_type = models.CharField(max_length=60, blank=True, default="")
    account_sub_type = models.CharField(max_length=60, blank=True, default="")
    classification = models.CharField(max_length=30, blank=True, default="")
    active = models.BooleanField(default=True)
    present = models.BooleanField(default=True, help_text="False once QBO no longer returns it.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantOwnedManager.from_queryset(QboCatalogQuerySet)()

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "qbo_id"], name="sync_qbocatalog_unique")]

    def __str__(self) -> str:
        return f"{self.number} {self.name}".strip()

    @property
    def usable(self) -> bool:
        return self.active and self.present

    @property
    def takes_lines(self) -> bool:
        """Whether document lines may post to it (QboCatalogQuerySet.postable, for one row)."""
        return not (self.kind == Kind.GL_ACCOUNT and self.account_sub_type in NOT_POSTABLE_SUBTYPES)

    @property
    def is_ap_account(self) -> bool:
        """QboCatalogQuerySet.ap_accounts, for one row."""
        return (self.kind == Kind.GL_ACCOUNT and self.classification == "Liability"
                and self.account_sub_type == "AccountsPayable" and self.usable)


class JaggaerCatalogItem(TenantOwnedModel):
    """A JAGGAER GL account or department (cost centre) code as last imported."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="jaggaer_catalog")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.CharField(max_length=100)
    name = models.CharField(max_length=255, blank=True, default="")
    active = models.BooleanField(default=True)
    present = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        ordering = ["kind", "code"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "code"], name="sync_jaggaercatalog_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Mapping(TenantOwnedModel):
    """JAGGAER code -> QBO Account (kind gl_account) or Department. Only `mapped` ones are posted to."""

    class Source(models.TextChoices):
        AUTO = "auto"
        PERSON = "person"

    class State(models.TextChoices):
        MAPPED = "mapped"
        UNMAPPED = "unmapped"
        STALE = "stale"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="mappings")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.CharField(max_length=100)
    qbo_item = models.ForeignKey(QboCatalogItem, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="mappings")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.AUTO)
    state = models.CharField(max_length=10, choices=State.choices, default=State.UNMAPPED)
    state_detail = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        ordering = ["kind", "code"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "code"], name="sync_mapping_unique")]
        indexes = [models.Index(fields=["tenant", "kind", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.code}: {self.state}"


class SyncSettings(TenantOwnedModel):
    """Per-tenant choices of the sync (the default AP account; more come with purchase orders and bills)."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="sync_settings")
    ap_account = models.ForeignKey(QboCatalogItem, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class DepartmentPolicy(models.TextChoices):
        HOLD = "hold", "hold the document"
        CLASS_PER_LINE = "class_per_line", "QBO Class per line (named as the department)"

    # A QBO transaction has one department (Location): what to do with a document whose lines differ.
    department_policy = models.CharField(max_length=20, choices=DepartmentPolicy.choices,
                                         default=DepartmentPolicy.HOLD)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        verbose_name_plural = "sync settings"

    def __str__(self) -> str:
        return f"sync settings of {self.tenant_id}"


class SyncLease(TenantOwnedModel):
    """Single flight: the run that holds a tenant's lease is the only one that may sync it.

    Taken and renewed with atomic conditional UPDATEs; a worker killed mid-run stops renewing,
    the lease expires, and the next run goes on from the cursors.
    """

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, primary_key=True,
                                  related_name="sync_lease")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)


    def __str__(self) -> str:
        return f"lease of {self.tenant_id}: run {self.run_id} until {self.expires_at}"


class PurchaseOrderLink(TenantOwnedModel):
    """JAGGAER purchase order -> the QBO PurchaseOrder written for it; until one is, what we last saw of it
    (its status), so invoices can tell a PO never seen from one not written yet or cancelled."""

    # no index of its own: the constraints' indexes start with the tenant (one index less per row written)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="purchase_order_links",
                               db_index=False)
    jaggaer_po_id = models.CharField(max_length=100)
    po_number = models.CharField(max_length=100, help_text="JAGGAER's full PO number.")
    doc_number = models.CharField(max_length=21, blank=True, default="",
                                  help_text="QBO DocNumber: the PO number, or its short form when longer than 21.")
    qbo_po_id = models.CharField(max_length=40, blank=True, default="")
    qbo_vendor_id = models.CharField(max_length=40, blank=True, default="")
    jaggaer_status = models.CharField(max_length=20, blank=True, default="")
    qbo_status = models.CharField(max_length=10, blank=True, default="", help_text="POStatus as we last wrote it.")
    lines = models.JSONField(default=dict, blank=True, help_text="JAGGAER lineNumber -> QBO line Id.")
    line_totals = models.JSONField(default=dict, blank=True,
                                   help_text='JAGGAER lineNumber -> {"quantity", "amount"} as written (decimal text).')
    source_digest = models.CharField(max_length=64, blank=True, default="")
    content_digest = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "jaggaer_po_id"], name="sync_polink_po"),
            models.UniqueConstraint(fields=["tenant", "doc_number"], condition=~models.Q(doc_number=""),
                                    name="sync_polink_docnumber"),
            models.UniqueConstraint(fields=["tenant", "qbo_po_id"], condition=~models.Q(qbo_po_id=""),
                                    name="sync_polink_qbo"),
        ]
        indexes = [models.Index(fields=["tenant", "po_number"])]

    def __str__(self) -> str:
        return f"{self.jaggaer_po_id} ({self.po_number}) -> PurchaseOrder {self.qbo_po_id or '-'}"

    @property
    def written(self) -> bool:
        return bool(self.qbo_po_id)


class BillLink(TenantOwnedModel):
    """JAGGAER invoice -> the QBO Bill (or, for a credit memo, VendorCredit) written for it."""

    # no index of its own: the constraints' indexes start with the tenant (one index less per row written)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="bill_links",
                               db_index=False)
    jaggaer_invoice_id = models.CharField(max_length=100)
    invoice_number = models.CharField(max_length=100)
    qbo_entity = models.CharField(max_length=20, help_text="Bill or VendorCredit.")
    qbo_id = models.CharField(max_length=40)
    doc_number = models.CharField(max_length=21, blank=True, default="")
    qbo_vendor_id = models.CharField(max_length=40, blank=True, default="")
    lines = models.JSONField(default=dict, blank=True, help_text="JAGGAER lineNumber -> QBO line Id.")
    po_ids = models.JSONField(default=list, blank=True, help_text="QBO PurchaseOrders its lines are linked to.")
    source_digest = models.CharField(max_length=64, blank=True, default="")
    content_digest = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "jaggaer_invoice_id"], name="sync_billlink_invoice"),
            models.UniqueConstraint(fields=["tenant", "qbo_entity", "qbo_id"], name="sync_billlink_qbo"),
        ]

    def __str__(self) -> str:
        return f"{self.jaggaer_invoice_id} -> {self.qbo_entity} {self.qbo_id}"


class PoLineBilling(TenantOwnedModel):
    """What one line of a bill we wrote bills on one JAGGAER PO line: with the PO line's own quantity and amount
    (`PurchaseOrderLink.line_totals`) it tells what is still open, so an over-billing invoice is held first."""

    # no index of its own: the constraints' indexes start with the tenant (one index less per row written)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="po_line_billings",
                               db_index=False)
    jaggaer_po_id = models.CharField(max_length=100)
    po_line = models.CharField(max_length=20)
    jaggaer_invoice_id = models.CharField(max_length=100)
    invoice_line = models.CharField(max_length=20)
    quantity = models.DecimalField(max_digits=38, decimal_places=18, null=True, blank=True)
    amount = models.DecimalField(max_digits=38, decimal_places=18)
    created_at = models.DateTimeField(auto_now_add=True)


    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "jaggaer_invoice_id", "invoice_line"],
                                               name="sync_polinebilling_invoice_line")]
        indexes = [models.Index(fields=["tenant", "jaggaer_po_id"])]

    def __str__(self) -> str:
        return f"{self.jaggaer_invoice_id}/{self.invoice_line} bills {self.jaggaer_po_id}/{self.po_line}"


class RecordIdentifier(TenantOwnedModel):
    """One number or name a JAGGAER record is known by (its id, invoice, supplier's invoice or PO number,
    supplier name or number, the QBO Id or DocNumber it was written as): what the support search looks up.

    Written with the record's audit rows (sync/records/identifiers.py); `value` is case-folded, so an exact
    match or a prefix is one index lookup, whatever the size of the audit."""

    # no index of its own: the unique constraint's index starts with the tenant (one index less per row written)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    entity = models.CharField(max_length=40)
    source_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=30)
    value = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "entity", "source_id", "kind", "value"],
                                               name="sync_recordidentifier_unique")]
        indexes = [models.Index(fields=["value"], name="sync_recordid_value",
                                opclasses=["varchar_pattern_ops"])]

    def __str__(self) -> str:
        return f"{self.entity} {self.source_id}: {self.kind} {self.value}"


class QboSnapshot(TenantOwnedModel):
    """What a run knows of the tenant's QuickBooks company between runs, so a daily run asks QBO's CDC what
    changed instead of reading every list again: the vendors (the few fields the vendor step uses), the
    customer and employee names (they share the vendors' namespace), the active terms, the company's
    preferences with the time they were read, and the CDC cursor. Accounts and departments live in
    `QboCatalogItem`; this row's cursor covers them too. A realm change or an old cursor means a full read."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, primary_key=True,
                                  related_name="qbo_snapshot")
    realm_id = models.CharField(max_length=40, blank=True, default="")
    changed_since = models.DateTimeField(null=True, blank=True, help_text="The next CDC asks from here.")
    full_read_at = models.DateTimeField(null=True, blank=True)
    vendors = models.JSONField(default=dict, blank=True)        # vendor Id -> {Id, SyncToken, DisplayName, Active}
    other_names = models.JSONField(default=dict, blank=True)    # "Customer:Id" / "Employee:Id" -> DisplayName
    terms = models.JSONField(default=dict, blank=True)          # term Id -> Name (active terms)
    preferences = models.JSONField(default=dict, blank=True)
    preferences_at = models.DateTimeField(null=True, blank=True)     # when the kept preferences were last current
    # Whether the company's CDC answers Preferences too (it does in QuickBooks; one that refused them is asked
    # without until the next full read).
    cdc_preferences = models.BooleanField(default=True)
    # When QBO classes may last have changed (a CDC answer brought some, or a full read): documents held for a
    # missing class are planned again after it.
    classes_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"QuickBooks snapshot of {self.tenant_id} since {self.changed_since}"
