"""What a step needs to know about the QBO company itself: its home currency and whether multicurrency is on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompanyCurrency:
    home: str
    multicurrency: bool

    def refuses(self, currency: str | None) -> bool:
        """A document in `currency` cannot be posted: another currency than home, with multicurrency off."""
        return bool(currency) and currency != self.home and not self.multicurrency

    def ref_for(self, currency: str | None) -> str | None:
        """The CurrencyRef value to send: only for a foreign currency in a multicurrency company."""
        return currency if currency and currency != self.home and self.multicurrency else None


def company_preferences(qbo) -> dict:
    """QBO Preferences (CurrencyPrefs lives there, not in CompanyInfo)."""
    return qbo.preferences() or {}


def company_currency(qbo) -> CompanyCurrency:
    return currency_from_preferences(company_preferences(qbo))


def currency_from_preferences(preferences: dict) -> CompanyCurrency:
    prefs = (preferences or {}).get("CurrencyPrefs") or {}
    home = ((prefs.get("HomeCurrency") or {}).get("value") or "USD").upper()
    return CompanyCurrency(home=home, multicurrency=bool(prefs.get("MultiCurrencyEnabled")))
