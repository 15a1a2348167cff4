"""Pure transforms: names cleaned to QBO's rules, fields carried, invalid records refused with a clear message."""

import pytest

from sync.mappings.matching import Candidate, auto_match, mapping_state
from sync.transforms.common import InvalidRecord, clean_name, digest, normalize_name, parse_date, parse_timestamp
from sync.transforms.vendors import supplier_to_vendor, with_suffix

SUPPLIER = {"companyId": "C-1", "companyName": "Acme Castings Ltd", "doingBusinessAs": None, "erpNumber": "V-0042",
            "active": True, "taxId": "12-3456789", "currency": "usd", "paymentTerms": "Net 30",
            "primaryAddress": {"line1": "1 Foundry Rd", "line2": None, "city": "Dayton", "state": "OH",
                               "postalCode": "45402", "country": "US"},
            "primaryContact": {"name": "Jo", "email": "ap@acme.example", "phone": "+1 937 555 0100"},
            "lastModTime": "2026-11-20T10:15:00Z"}


@pytest.mark.parametrize("raw, clean", [
    ("Acme Corp: Dayton Division", "Acme Corp - Dayton Division"),
    ("Lakeshore\tPallet Co.", "Lakeshore Pallet Co."),
    ("  Buckeye   Bearings\nInc.  ", "Buckeye Bearings Inc."),
    ("O'Brien Tool & Die Inc.", "O'Brien Tool & Die Inc."),
    ("Fonderie Québécoise Ltée", "Fonderie Québécoise Ltée"),
    ("株式会社山田製作所", "株式会社山田製作所"),
    ("Trailing:", "Trailing"),
])
def test_names_are_cleaned_to_qbo_rules(raw, clean):
    assert clean_name(raw) == clean


def test_long_names_are_cut_to_500_and_the_suffix_still_fits():
    name = clean_name("x" * 900)
    assert len(name) == 500
    assert len(with_suffix(name)) == 500 and with_suffix(name).endswith(" (V)")


def test_normalised_names_ignore_case_and_spacing():
    assert normalize_name(" ACME  castings LTD ") == normalize_name("Acme Castings Ltd")


def test_a_supplier_becomes_a_vendor_payload_with_only_jaggaer_fields():
    draft = supplier_to_vendor(SUPPLIER)
    assert draft.display_name == "Acme Castings Ltd"
    assert draft.payload == {
        "CompanyName": "Acme Castings Ltd", "Active": True, "AcctNum": "V-0042", "TaxIdentifier": "12-3456789",
        "BillAddr": {"Line1": "1 Foundry Rd", "City": "Dayton", "CountrySubDivisionCode": "OH",
                     "PostalCode": "45402", "Country": "US"},
        "PrimaryEmailAddr": {"Address": "ap@acme.example"}, "PrimaryPhone": {"FreeFormNumber": "+1 937 555 0100"}}
    assert (draft.terms, draft.currency) == ("Net 30", "USD")


def test_the_dba_is_the_company_name():
    assert supplier_to_vendor(dict(SUPPLIER, doingBusinessAs="Acme")).payload["CompanyName"] == "Acme"


@pytest.mark.parametrize("change, field", [
    ({"companyName": None}, "companyName"), ({"companyName": "   "}, "companyName"),
    ({"companyId": ""}, "companyId"), ({"lastModTime": "2026-02-30T00:00:00Z"}, "lastModTime"),
    ({"lastModTime": "11/20/2026"}, "lastModTime"),
])
def test_invalid_suppliers_are_refused_with_the_field_named(change, field):
    with pytest.raises(InvalidRecord) as excinfo:
        supplier_to_vendor(dict(SUPPLIER, **change))
    assert excinfo.value.field == field and field in excinfo.value.message


def test_dates_and_timestamps_are_strict():
    assert parse_timestamp("2026-11-20T10:15:00Z", field="t").utcoffset().total_seconds() == 0
    assert parse_date("2026-11-19", field="d").day == 19
    for bad in ("2026-13-05", "11/31/2026", "", None):
        with pytest.raises(InvalidRecord):
            parse_date(bad, field="d")


def test_the_digest_changes_with_content_and_version_only():
    assert digest({"a": 1, "b": 2}, version="1") == digest({"b": 2, "a": 1}, version="1")
    assert digest({"a": 1}, version="1") != digest({"a": 2}, version="1")
    assert digest({"a": 1}, version="1") != digest({"a": 1}, version="2")


def test_auto_match_prefers_the_number_then_a_unique_name():
    accounts = [Candidate(1, "6100", "Raw materials", True, True), Candidate(2, "", "Utilities", True, True),
                Candidate(3, "", "Travel", True, True), Candidate(4, "", "travel ", True, True),
                Candidate(5, "7000", "Gone", True, False)]
    assert auto_match(code="6100", name="Anything", candidates=accounts) == 1
    assert auto_match(code="6300", name="UTILITIES", candidates=accounts) == 2
    assert auto_match(code="6900", name="Travel", candidates=accounts) is None      # ambiguous
    assert auto_match(code="7000", name="Gone", candidates=accounts) is None        # deleted in QBO


def test_mapping_states_follow_both_sides():
    ok = Candidate(1, "6100", "Raw materials", True, True)
    assert mapping_state(kind="gl_account", qbo=ok, jaggaer_active=True) == ("mapped", "")
    assert mapping_state(kind="gl_account", qbo=None, jaggaer_active=True)[0] == "unmapped"
    assert mapping_state(kind="gl_account", qbo=ok, jaggaer_active=False)[0] == "stale"
    inactive = Candidate(1, "6100", "Raw materials", False, True)
    assert mapping_state(kind="department", qbo=inactive, jaggaer_active=True)[0] == "stale"
    deleted = Candidate(1, "6100", "Raw materials", True, False)
    assert "deleted" in mapping_state(kind="gl_account", qbo=deleted, jaggaer_active=None)[1]
