"""Mapping look-ups for steps whose records post to GL accounts and departments (bulk-loaded once)."""

from __future__ import annotations

from dataclasses import dataclass

from sync.holds.selectors import MAPPING_HOLD_REASONS
from sync.models import Kind, Mapping
from sync.pipeline.engine import HoldSpec

LABEL = {Kind.GL_ACCOUNT: "GL code", Kind.DEPARTMENT: "department code"}


@dataclass(frozen=True)
class QboRef:
    value: str
    name: str

    def as_ref(self) -> dict:
        return {"value": self.value, "name": self.name}


class MappingResolver:
    """code -> QBO reference for mapped codes; anything unmapped or stale becomes a hold naming the codes."""

    def __init__(self, tenant):
        self.refs: dict[tuple[str, str], QboRef] = {}
        self.problems: dict[tuple[str, str], str] = {}
        for m in Mapping.objects.for_tenant(tenant).select_related("qbo_item"):
            if m.state == Mapping.State.MAPPED and m.qbo_item is not None:
                self.refs[(m.kind, m.code)] = QboRef(m.qbo_item.qbo_id, m.qbo_item.name)
            else:
                self.problems[(m.kind, m.code)] = m.state_detail or m.state

    def resolve(self, needs: dict[str, set[str]]) -> dict[tuple[str, str], QboRef] | HoldSpec:
        """All references `needs` ({kind: {codes}}) asks for, or the hold that waits on the missing ones
        (GL codes first: one reason per hold, every missing code of that kind named)."""
        found, missing = {}, {}
        for kind in (Kind.GL_ACCOUNT, Kind.DEPARTMENT):
            for code in sorted(needs.get(kind, ())):
                ref = self.refs.get((kind, code))
                if ref is None:
                    missing.setdefault(kind, []).append(code)
                else:
                    found[(kind, code)] = ref
        for kind, codes in missing.items():
            why = "; ".join(f"{LABEL[kind]} {c}: {self.problems.get((kind, c), 'not mapped yet')}" for c in codes)
            return HoldSpec(MAPPING_HOLD_REASONS[kind],
                            f"No valid QuickBooks {('account', 'department')[kind == Kind.DEPARTMENT]} for "
                            f"{why}. Map it to release the record.", codes)
        return found
