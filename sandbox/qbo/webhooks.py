"""Webhook notifications, signed as Intuit signs them, sent from one background thread (urllib, stdlib).

Changes to the configured entities are gathered for `delay` seconds per realm, then POSTed in one
notification. A target that fails or answers non-2xx is retried (at-least-once, as Intuit does).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

RETRY_DELAYS = (0.2, 0.5, 1.0)      # seconds between attempts; Intuit retries over hours, tests need seconds


def sign(body: bytes, verifier_token: str) -> str:
    """The `intuit-signature` header: base64 of HMAC-SHA256 over the raw body, keyed by the verifier token."""
    return base64.b64encode(hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def classic_payload(realm_id: str, events: list[dict]) -> dict:
    return {"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": [
        {"name": e["name"], "id": e["id"], "operation": e["operation"], "lastUpdated": e["lastUpdated"]}
        for e in events]}}]}


def cloudevents_payload(realm_id: str, events: list[dict]) -> list[dict]:
    out = []
    for e in events:
        verb = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged"}.get(
            e["operation"], e["operation"].lower())
        out.append({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "intuit.sandbox",
                    "type": f"qbo.{e['name'].lower()}.{verb}.v1", "datacontenttype": "application/json",
                    "time": e["time_utc"], "intuitentityid": e["id"], "intuitaccountid": realm_id, "data": {}})
    return out


class WebhookSender:
    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._pending: dict[str, list[dict]] = {}          # realm -> gathered events
        self._due: dict[str, float] = {}
        self._config: dict[str, object] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.deliveries: list[dict] = []                    # what was sent and how the target answered

    def notify(self, realm_id: str, config, entity: str, obj_id: str, operation: str, when_text: str,
               when: float) -> None:
        if entity not in config.entities:
            return
        event = {"name": entity, "id": obj_id, "operation": operation, "lastUpdated": when_text,
                 "time_utc": datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")
                 .replace("+00:00", "Z")}
        with self._lock:
            self._pending.setdefault(realm_id, []).append(event)
            self._config[realm_id] = config
            self._due.setdefault(realm_id, time.monotonic() + config.delay)
        self._ensure_thread()
        self._queue.put(None)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qbo-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._due.clear()
            self.deliveries.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                now = time.monotonic()
                ready = [r for r, due in self._due.items() if due <= now]
                batches = []
                for realm_id in ready:
                    batches.append((realm_id, self._config[realm_id], self._pending.pop(realm_id, [])))
                    del self._due[realm_id]
                wait = min((due - now for due in self._due.values()), default=1.0)
            for realm_id, config, events in batches:
                if events:
                    self._deliver(realm_id, config, events)
            try:
                self._queue.get(timeout=max(0.01, wait))
            except queue.Empty:
                pass

    def _deliver(self, realm_id: str, config, events: list[dict]) -> None:
        payload = (cloudevents_payload(realm_id, events) if config.format == "cloudevents"
                   else classic_payload(realm_id, events))
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/cloudevents-batch+json" if config.format == "cloudevents"
                   else "application/json", "intuit-signature": sign(body, config.verifier_token),
                   "User-Agent": "ml-sandbox-qbo-webhooks"}
        for attempt, delay in enumerate((0.0,) + RETRY_DELAYS):
            if delay and self._stop.wait(delay):
                return
            record = {"realm_id": realm_id, "url": config.url, "attempt": attempt + 1, "body": body.decode(),
                      "signature": headers["intuit-signature"], "format": config.format}
            try:
                req = urllib.request.Request(config.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=5) as resp:
                    record["status"] = resp.status
            except urllib.error.HTTPError as e:
                record["status"] = e.code
            except (urllib.error.URLError, OSError) as e:
                record["status"] = None
                record["error"] = type(e).__name__
            with self._lock:
                self.deliveries.append(record)
            if record["status"] is not None and 200 <= record["status"] < 300:
                return
