"""Pure functions: a JAGGAER record in, a QBO payload (and what it needs) out. No HTTP, no ORM."""
