"""The fit report (a sync in dry-run mode, before the first write) and the month-end reconciliation."""
