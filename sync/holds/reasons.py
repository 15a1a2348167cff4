"""Each hold reason in words (README, "Holds: what a record waits on"): a label, and what releases it."""

from __future__ import annotations

REASONS: dict[str, tuple[str, str]] = {
    "invalid_record": ("Invalid record", "JAGGAER corrects the record"),
    "quantity_not_positive": ("Quantity not positive", "JAGGAER corrects the line"),
    "unit_price_negative": ("Negative unit price", "JAGGAER corrects the line"),
    "line_amount_mismatch": ("Line amount ≠ quantity × price", "JAGGAER corrects the line"),
    "amount_negative": ("Negative line amount", "JAGGAER corrects the line or makes it a credit memo"),
    "line_signs_mixed": ("Credit memo with mixed signs", "JAGGAER corrects or splits the memo"),
    "total_mismatch": ("Lines do not add up to the total", "JAGGAER corrects the total or the lines"),
    "po_overbilled": ("PO line over-billed", "the invoice is corrected, or the PO line raised, in JAGGAER"),
    "duplicate_supplier_name": ("Duplicate supplier name", "one of the suppliers is renamed in JAGGAER"),
    "vendor_name_taken": ("Vendor name taken in QuickBooks", "renamed in QuickBooks or in JAGGAER"),
    "vendor_missing": ("Vendor deleted or merged in QuickBooks", "its link is forgotten"),
    "supplier_not_synced": ("Supplier not in QuickBooks yet", "the supplier is synced"),
    "supplier_not_found": ("Supplier unknown to JAGGAER", "the supplier is synced"),
    "supplier_held": ("Supplier held", "the supplier's own hold is released"),
    "supplier_invalid": ("Supplier could not be synced", "the supplier's own hold is released"),
    "vendor_needs_attention": ("Vendor needs attention", "a person clears the vendor link's attention"),
    "currency_unsupported": ("Foreign currency, multicurrency off",
                             "multicurrency is turned on in QuickBooks (Settings → Advanced → Currency)"),
    "gl_unmapped": ("GL code not mapped", "the GL code is mapped to a QuickBooks account"),
    "department_unmapped": ("Department not mapped", "the department is mapped to a QuickBooks department"),
    "multiple_departments": ("Lines on several departments",
                             "the department policy becomes class per line, or JAGGAER corrects the lines"),
    "class_missing": ("QuickBooks class missing", "the class is created in QuickBooks"),
    "ap_account_missing": ("No AP account chosen", "the AP account is set in the sync settings"),
    "po_number_duplicate": ("Duplicate PO number", "one number is changed in JAGGAER"),
    "po_number_taken": ("PO number taken in QuickBooks", "renumbered in QuickBooks or in JAGGAER"),
    "po_missing_in_qbo": ("PO deleted in QuickBooks", "the PO's link is forgotten and the PO replayed"),
    "po_not_found": ("PO never seen", "the PO is written"),
    "po_not_synced": ("PO not in QuickBooks yet", "the PO is written"),
    "po_cancelled": ("PO cancelled", "the PO is reinstated or the invoice corrected"),
    "po_vendor_mismatch": ("PO of another supplier", "JAGGAER corrects the invoice's supplier or PO"),
    "po_line_not_found": ("PO line not in QuickBooks", "the PO gets the line or the invoice is corrected"),
    "duplicate_invoice_number": ("Duplicate supplier invoice number", "JAGGAER corrects one number"),
    "bill_paid": ("Bill already paid", "the payment is voided, or a person decides"),
    "document_type_changed": ("Invoice ↔ credit memo changed",
                              "JAGGAER changes it back, or the QuickBooks document is deleted and its link forgotten"),
    "bill_missing_in_qbo": ("Bill deleted in QuickBooks", "the bill's link is forgotten"),
    "retry": ("Passing QuickBooks failure", "the next run"),
}


def reason_label(reason: str) -> str:
    return REASONS.get(reason, (reason.replace("_", " ").capitalize(), ""))[0]


def reason_released_when(reason: str) -> str:
    return REASONS.get(reason, ("", "a person looks at it"))[1]
