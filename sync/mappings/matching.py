"""Auto-matching and drift rules for mappings: plain functions over plain values, no ORM."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sync.transforms.common import normalize_name

MAPPED, UNMAPPED, STALE = "mapped", "unmapped", "stale"
LABELS = {"gl_account": "account", "department": "department"}


@dataclass(frozen=True)
class Candidate:
    key: object          # whatever identifies the QBO item for the caller (a pk)
    number: str
    name: str
    active: bool
    present: bool


def auto_match(*, code: str, name: str, candidates: Iterable[Candidate]) -> object | None:
    """Account number equal to the code, else normalised name equal to the name; one match or none."""
    present = [c for c in candidates if c.present]
    code = (code or "").strip()
    by_number = [c for c in present if c.number and c.number.strip() == code]
    if by_number:
        return by_number[0].key if len(by_number) == 1 else None
    wanted = normalize_name(name or "")
    if not wanted:
        return None
    by_name = [c for c in present if normalize_name(c.name) == wanted]
    return by_name[0].key if len(by_name) == 1 else None


def mapping_state(*, kind: str, qbo: Candidate | None, jaggaer_active: bool | None) -> tuple[str, str]:
    """(state, why) of a mapping; `jaggaer_active` is None when the code is not in JAGGAER's catalog."""
    label = LABELS[kind]
    if qbo is None:
        return UNMAPPED, f"No QuickBooks {label} chosen."
    if jaggaer_active is False:
        return STALE, "The code is retired (inactive or removed) in JAGGAER."
    if not qbo.present:
        return STALE, f"QuickBooks {label} '{qbo.name}' was deleted."
    if not qbo.active:
        return STALE, f"QuickBooks {label} '{qbo.name}' is inactive."
    return MAPPED, ""
