"""The Dataset a generator run produces and both sandboxes load."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JAGGAER_KEYS = ("suppliers", "purchase_orders", "invoices", "gl_accounts", "departments")
QBO_KEYS = ("CompanyInfo", "Account", "Department", "Vendor", "Customer", "Employee", "Class", "Term")


@dataclass
class Dataset:
    """Generated data for both systems.

    `jaggaer` holds records in the shapes of the JAGGAER dialect document; `qbo` holds QBO-shaped dicts
    without Id/SyncToken/MetaData (references by name); `cases` maps each messy-case name to a dict of
    the records involved ({"suppliers": [...ids], "invoices": [...], ...} plus case-specific detail).
    Loaders must treat the records as read-only: the same Dataset may be loaded again and again.
    """

    name: str
    seed: int
    jaggaer: dict[str, list[dict]] = field(default_factory=dict)
    qbo: dict[str, Any] = field(default_factory=dict)
    cases: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.jaggaer.items()}
