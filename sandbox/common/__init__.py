"""What every sandbox server shares: the HTTP server, fault injection, the request log."""
