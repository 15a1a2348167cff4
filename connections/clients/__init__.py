"""Clients for the two systems ml-connector talks to, on one shared HTTP layer (`http.py`).

Nobody outside this package imports `requests`: JAGGAER through `jaggaer.JaggaerClient`, QuickBooks
through `qbo.QboClient`, and anything else (token endpoints, ping) through `http.HttpClient`. Beside
them: `outbound.py` (which hosts a customer-given URL may reach), `calls.py` (the call reporting the
audit's recorder listens to) and `limiter.py` (the per-realm QuickBooks budget in Redis); what is
masked in the call log and log lines is `core.redaction` (the audit masks with it too). The clients
read no database: a tenant's clients are built from its stored connection, with their token
providers, in `connections.tokens` (`qbo_client_for_tenant`, `jaggaer_client_for_tenant`).
"""
