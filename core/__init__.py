"""What every app shares and nothing else: the application error, and (later layers) tenancy and actors."""
