"""Start both sandboxes in this process (tests, the demo, benchmarks): `start_sandboxes()`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.common.http import SandboxServer
from sandbox.datagen import load_dataset
from sandbox.jaggaer.app import JaggaerApp
from sandbox.qbo.app import QboApp


@dataclass
class Sandboxes:
    qbo_server: SandboxServer
    jaggaer_server: SandboxServer
    dataset: str | None = "small"
    seed: int = 42
    scale: float = 1.0

    @property
    def qbo(self) -> QboApp:
        return self.qbo_server.app

    @property
    def jaggaer(self) -> JaggaerApp:
        return self.jaggaer_server.app

    @property
    def qbo_url(self) -> str:
        return self.qbo_server.url

    @property
    def jaggaer_url(self) -> str:
        return self.jaggaer_server.url

    def servers(self) -> list[SandboxServer]:
        return [self.qbo_server, self.jaggaer_server]

    def reset(self, dataset: str | None = "small", seed: int = 42, scale: float = 1.0) -> None:
        """Load one generated dataset into both systems; clear faults, latency and request logs."""
        data = load_dataset(dataset, seed, scale)
        for server in self.servers():
            server.app.reset(data)
            server.faults.clear()
            server.log.clear()
        self.dataset, self.seed, self.scale = dataset, seed, scale

    def stop(self) -> None:
        for server in self.servers():
            server.stop()

    def __enter__(self) -> Sandboxes:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_sandboxes(dataset: str | None = "small", seed: int = 42, scale: float = 1.0, qbo_port: int = 0,
                    jaggaer_port: int = 0, host: str = "127.0.0.1",
                    qbo_limits: dict[str, int | None] | None = None) -> Sandboxes:
    """Both servers up on `host` (port 0: a free port each), loaded with the same generated dataset.

    `qbo_limits` overrides QBO's per-realm limits for every realm, e.g. {"requests_per_minute": None} for a
    benchmark that must not be throttled."""
    data = load_dataset(dataset, seed, scale)
    qbo = QboApp()
    qbo.reset(data)
    if qbo_limits:
        qbo.set_limits("*", **qbo_limits)
    qbo_server = SandboxServer(qbo, port=qbo_port, host=host)
    jaggaer = JaggaerApp()
    jaggaer.reset(data)
    jaggaer_server = SandboxServer(jaggaer, port=jaggaer_port, host=host)
    qbo_server.start()
    try:
        jaggaer_server.start()
    except BaseException:
        qbo_server.stop()
        raise
    return Sandboxes(qbo_server, jaggaer_server, dataset, seed, scale)
