"""What must hold for the demo to pass, and the duplicate count it reads from the QBO sandbox."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console


class DemoFailed(Exception):
    """A step the rest of the demo depends on did not work; `check` names it."""

    def __init__(self, check: str, detail: str):
        super().__init__(f"{check}: {detail}")
        self.check, self.detail = check, detail


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str


@dataclass
class Checks:
    console: Console
    results: list[CheckResult] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record a check and print it; the demo goes on either way (the exit status tells)."""
        self.results.append(CheckResult(name, bool(ok), detail))
        mark = "[green]✔ pass[/]" if ok else "[bold red]✘ FAIL[/]"
        self.console.print(f"  {mark} {name}" + (f" [dim]— {detail}[/]" if detail else ""), highlight=False)
        return bool(ok)

    def require(self, name: str, ok: bool, detail: str = "") -> None:
        """A check the next steps depend on: stop the demo when it fails."""
        if not self.check(name, ok, detail):
            raise DemoFailed(name, detail)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]


@dataclass
class Duplicates:
    vendors: int                      # vendors beyond the first per DisplayName (case-insensitive)
    bills: int                        # bills beyond the first per (DocNumber, VendorRef)
    vendor_names: list[str]
    bill_keys: list[tuple[str, str]]
    vendor_count: int
    bill_count: int

    @property
    def line(self) -> str:
        return f"{self.vendors} duplicate vendors, {self.bills} duplicate bills"


def duplicates_in_qbo(qbo_app, realm_id: str | None = None) -> Duplicates:
    """Count duplicates in what the QBO sandbox holds now (inactive vendors included: QBO counts them too)."""
    vendors = qbo_app.state("Vendor", realm_id)
    names = Counter(str(v.get("DisplayName") or "").strip().casefold() for v in vendors)
    bills = qbo_app.state("Bill", realm_id)
    keys = Counter((str(b["DocNumber"]), str((b.get("VendorRef") or {}).get("value") or ""))
                   for b in bills if b.get("DocNumber"))
    return Duplicates(
        vendors=sum(n - 1 for n in names.values() if n > 1),
        bills=sum(n - 1 for n in keys.values() if n > 1),
        vendor_names=sorted(name for name, n in names.items() if n > 1),
        bill_keys=sorted(key for key, n in keys.items() if n > 1),
        vendor_count=len(vendors), bill_count=len(bills),
    )
