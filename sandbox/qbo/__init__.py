"""A QuickBooks Online Accounting API v3 sandbox (see docs/SANDBOX_INTERFACE.md and the qbo-v3 contract)."""
