"""QBO fault bodies: service faults (JSON, `Fault.Error[]`), gateway faults (lower-case), throttling (XML)."""
from __future__ import annotations

from xml.sax.saxutils import escape


class QboFault(Exception):
    """A service fault: HTTP `status` with `{"Fault": {"Error": [...], "type": ...}}`."""

    def __init__(self, code: str | int, message: str, detail: str = "", element: str = "",
                 status: int = 400, fault_type: str = "ValidationFault"):
        super().__init__(f"{code} {message}: {detail}")
        self.code = str(code)
        self.message = message
        self.detail = detail or message
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def body(self) -> dict:
        """The `Fault` member (without `time`), as in a response or a batch item."""
        return {"Error": [{"Message": self.message, "Detail": self.detail, "code": self.code,
                           "element": self.element}], "type": self.fault_type}


# ---- the faults the contract names, worded as Intuit words them
def required(element: str) -> QboFault:
    return QboFault("2020", "Required param missing, need to supply the required value for the API",
                    f"Required parameter {element} is missing in the request", element)


def invalid(element: str, detail: str) -> QboFault:
    return QboFault("2010", "Request has invalid or unsupported property", detail, element)


def length(element: str, max_len: int, supplied: int) -> QboFault:
    return QboFault("2050", "String length is either shorter or longer than supported by specification",
                    f"String length specified does not match the supported length. Min:0 Max:{max_len} "
                    f"supplied length:{supplied}", element)


def bad_characters(element: str, what: str) -> QboFault:
    return QboFault("2040", "Invalid String", f"{element} cannot contain {what}.", element)


def duplicate_name(kind: str) -> QboFault:
    return QboFault("6240", "Duplicate Name Exists Error",
                    f"The name supplied already exists. : Another {kind} is already using this name. "
                    "Please use a different name.")


def duplicate_docnumber(docnumber: str, entity: str, txn_id: str) -> QboFault:
    return QboFault("6140", "Duplicate Document Number Error",
                    "Duplicate Document Number Error : You must specify a different number. This number has "
                    f"already been used. DocNumber={docnumber} is assigned to TxnType={entity} with TxnId={txn_id}",
                    "DocNumber")


def stale(entity: str) -> QboFault:
    return QboFault("5010", "Stale Object Error",
                    f"Stale Object Error : You and another user were working on the same {entity} at the same "
                    "time. The other user finished before you did, so your work was not saved.", "SyncToken")


def not_found(entity: str, obj_id: str, inactive: bool = False, element: str = "") -> QboFault:
    if inactive:
        detail = ("Object Not Found : Something you're trying to use has been made inactive. Check the fields "
                  "with accounts, customers, items, vendors or employees.")
    else:
        detail = f"Object Not Found : Something you're trying to use has been made inactive or deleted. " \
                 f"{entity} with Id={obj_id} was not found."
    return QboFault("610", "Object Not Found", detail, element)


def invalid_reference(element: str, entity: str, ref_id: str) -> QboFault:
    return QboFault("2500", "Invalid Reference Id",
                    f"Invalid Reference Id : {entity} with Id={ref_id} referenced by {element} does not exist.",
                    element)


def business(detail: str, element: str = "") -> QboFault:
    return QboFault("6000", "A business validation error has occurred while processing your request",
                    f"Business Validation Error: {detail}", element)


# ---- gateway and throttling shapes
def auth_failed_body(detail: str) -> dict:
    return {"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                 "detail": detail, "code": "3200"}], "type": "AUTHENTICATION"}}


def forbidden_body(detail: str) -> dict:
    return {"fault": {"error": [{"message": "message=AuthorizationFailure; errorCode=003100; statusCode=403",
                                 "detail": detail, "code": "3100"}], "type": "AUTHORIZATION"}}


def throttle_xml(time_text: str, detail: str = "The request limit was reached.") -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{escape(time_text)}">'
            '<Fault type="SERVICE"><Error code="3001">'
            "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
            f"<Detail>{escape(detail)}</Detail></Error></Fault></IntuitResponse>")
