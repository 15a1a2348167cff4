"""What every app shares and nothing else: the application error (`exceptions`) and who acts (`actor`)."""
