"""Changes made in QuickBooks: Intuit webhooks and the daily CDC, applied to our links and holds."""
