from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"

    def ready(self) -> None:
        # Every attempt of the HTTP layer goes to the audit's outbound call log, through its entry point.
        import audit
        from connections.clients.calls import call_listeners

        if audit.api_call_record not in call_listeners:
            call_listeners.append(audit.api_call_record)
        # ... and to the Prometheus counters (QBO requests and 429s per realm, token calls, JAGGAER errors).
        from core.metrics import call_observed

        if call_observed not in call_listeners:
            call_listeners.append(call_observed)
