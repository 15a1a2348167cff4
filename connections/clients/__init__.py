"""Clients for the two systems ml-connector talks to, on one shared HTTP layer (`http.py`).

Nobody outside this package imports `requests`: JAGGAER through `jaggaer.JaggaerClient`, QuickBooks
through `qbo.QboClient`, and anything else (token endpoints, ping) through `http.HttpClient`.
"""
