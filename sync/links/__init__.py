"""Links: what each JAGGAER record was written as in QuickBooks."""
