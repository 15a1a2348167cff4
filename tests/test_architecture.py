"""The layout's rules, read from the code: no import cycle between modules (lazy imports included),
and arrows between apps point down (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "config", "tenants", "connections", "audit", "webhooks", "sync", "reports", "console", "demo",
            "sandbox")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports, at the top or inside a function."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved and resolved != name:
                    graph[name].add(resolved)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    found = cycles(import_graph())
    assert not found, "import cycles (lazy imports count too):\n" + "\n".join(" -> ".join(c) for c in found)


# ------------------------------------------------------------------------------------------ arrows point down
#
# core ← tenants ← connections ← sync ← demo, with two rules on the side:
# - audit is a sink everyone writes to through one entry point: other apps import only the modules in
#   AUDIT_PUBLIC (the `audit` package to write; models, selectors and serializers to read), and audit itself
#   imports only core and tenants (a row's tenant, the scoped API views), never connections or sync;
# - config is the wiring on top (settings, urls, the Celery app, wsgi, log filters): it may import every app,
#   and no app imports it but for `config.celery` (the Celery app object); django.conf.settings is Django's.
# console (the support console's admin over the apps' own ModelAdmins) sits on top beside demo and may
# import every app, audit's admin included; nothing imports it. sandbox imports nothing of ours.
# bench/ and tests/ are outside the layers.

APPS_BELOW: dict[str, set[str]] = {
    "core": set(),
    "tenants": {"core", "audit"},
    "audit": {"core", "tenants"},
    "webhooks": {"core", "tenants", "audit"},
    "connections": {"core", "tenants", "audit", "webhooks"},
    "sync": {"core", "tenants", "audit", "connections", "webhooks"},
    "reports": {"core", "tenants", "audit", "connections", "sync", "webhooks"},
    "console": {"core", "tenants", "audit", "connections", "sync", "reports", "webhooks"},
    "demo": {"core", "tenants", "audit", "connections", "sync", "reports", "sandbox", "webhooks"},
    "sandbox": set(),
}
AUDIT_PUBLIC = {"audit", "audit.models", "audit.selectors", "audit.serializers"}
CONFIG_PUBLIC = {"config.celery"}
def _app(module: str) -> str:
    return module.split(".")[0]


def arrow_violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) module pairs between apps that the layers above do not allow."""
    found = set()
    for module, targets in graph.items():
        source = _app(module)
        if source == "config":
            continue
        for target in targets:
            app = _app(target)
            if app == source:
                continue
            if app == "config":
                allowed = target in CONFIG_PUBLIC and source not in ("core", "sandbox")
            else:
                allowed = app in APPS_BELOW.get(source, set())
                if allowed and app == "audit" and source != "console":
                    allowed = target in AUDIT_PUBLIC
            if not allowed:
                found.add((module, target))
    return found


def test_the_arrow_rule_finds_arrows_pointing_up():
    graph = {
        "tenants.admin": {"sync.models", "tenants.models", "core.actor", "audit"},
        "audit.services": {"connections.clients.calls", "core.redaction", "tenants.models"},
        "connections.api": {"config.throttles", "audit.services", "audit.selectors"},
        "sync.runs.lifecycle": {"config.celery", "connections.models", "audit"},
        "console.admin": {"audit.admin", "sync.admin"},
        "core.api": {"config.celery"},
        "sandbox.runner": {"core.actor"},
        "demo.scenario": {"sandbox.runner", "console.admin"},
        "config.urls": {"console.admin", "sync.api"},
    }
    assert arrow_violations(graph) == {
        ("tenants.admin", "sync.models"), ("audit.services", "connections.clients.calls"),
        ("connections.api", "config.throttles"), ("connections.api", "audit.services"),
        ("core.api", "config.celery"), ("sandbox.runner", "core.actor"), ("demo.scenario", "console.admin"),
    }


def test_arrows_between_apps_point_down():
    graph = import_graph()
    found = arrow_violations(graph)
    assert not found, "imports against the layers (core ← tenants ← connections ← sync ← demo; audit through " \
                      "its public modules; config.celery only):\n" + "\n".join(f"{a} -> {b}" for a, b in sorted(found))
