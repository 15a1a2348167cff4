"""One vocabulary of people's actions: the registry, docs/AUDIT.md and every code written agree, and only
services write the rows (no view, serializer, admin class or task calls `audit.action` itself)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import audit
from audit.actions import ACTIONS
from core.actor import SYSTEM

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "venv", "tests", "node_modules", "var", ".git", "migrations", "__pycache__"}
CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

# Files of the request/response edge: they call services, never `audit.action`.
EDGE_FILES = {"api.py", "admin.py", "serializers.py", "tasks.py"}
# Edge files that still write audit rows themselves (none: every act is written by its service).
EDGE_FILES_STILL_AUDITING: set[str] = set()


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if not SKIPPED_DIRS & set(p.relative_to(ROOT).parts[:-1]))


def _audit_calls(path: Path, tree: ast.Module | None = None) -> list[ast.Call]:
    """`audit.action(...)`, or `action(...)` imported from audit under any name."""
    tree = tree or ast.parse(path.read_text(), filename=str(path))
    imported_action = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                       and (node.module or "").startswith("audit") for alias in node.names if alias.name == "action"}
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "action" and isinstance(func.value, ast.Name)
                and func.value.id == "audit") or (isinstance(func, ast.Name) and func.id in imported_action):
            calls.append(node)
    return calls


def _code_arguments(path: Path) -> list[tuple[int, ast.expr, ast.AST]]:
    """The code argument of each audit call, and of each call of a module's own helper that passes its
    `code` parameter on (e.g. an admin's `people_audit(request, code, ...)`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    helpers = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            params = [a.arg for a in node.args.args]
            if "code" in params and any(isinstance(c.args[0], ast.Name) and c.args[0].id == "code"
                                        for c in _calls_in(node) if c.args):
                helpers[node.name] = params.index("code")
    scopes = {}       # each call's innermost function (a name is resolved there only)
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                scopes[id(node)] = function
    found = [(call.lineno, call.args[0], scopes.get(id(call), tree)) for call in _audit_calls(path, tree) if call.args]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers:
            position = helpers[node.func.id]
            if len(node.args) > position:
                found.append((node.lineno, node.args[position], scopes.get(id(node), tree)))
    return found


def _calls_in(function: ast.FunctionDef) -> list[ast.Call]:
    module = ast.Module(body=[function], type_ignores=[])
    return [n for n in ast.walk(module) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == "action"]


def _literal_codes(node: ast.expr, scope: ast.AST | None = None) -> list[str] | None:
    """The codes an expression can take: a string, a conditional of strings, or a name its function assigns
    only such values to; None when not knowable (a parameter passed on)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literal_codes(node.body, scope), _literal_codes(node.orelse, scope)
        return None if body is None or orelse is None else body + orelse
    if isinstance(node, ast.Name) and scope is not None:
        values = [a.value for a in ast.walk(scope) if isinstance(a, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)]
        codes = [_literal_codes(v) for v in values]
        if values and all(c is not None for c in codes):
            return [code for group in codes for code in group]
        return None
    if isinstance(node, ast.JoinedStr):
        return ["<an f-string: write the code out>"]
    return None


def _doc_table() -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "AUDIT.md").read_text()
    section = text.split("## People's actions", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        code = cells[0].strip("`")
        assert code not in rows, f"docs/AUDIT.md lists {code} twice"
        rows[code] = (cells[1], ", ".join(w.strip().strip("`") for w in cells[2].split(",")))
    return rows


def test_the_registry_and_docs_audit_md_list_exactly_the_same_codes_and_meanings():
    documented = _doc_table()
    assert set(documented) == set(ACTIONS), (
        f"only in docs/AUDIT.md: {sorted(set(documented) - set(ACTIONS))}; "
        f"only in audit/actions.py: {sorted(set(ACTIONS) - set(documented))}")
    for code, entry in ACTIONS.items():
        assert documented[code] == (entry.meaning, entry.written_by), code


def test_every_registered_code_is_dotted_and_names_a_writer_that_exists():
    for code, entry in ACTIONS.items():
        assert CODE.match(code), code
        assert entry.meaning and entry.meaning == entry.meaning.strip()
        for writer in entry.written_by.split(","):
            parts = writer.strip().split(".")
            for cut in range(len(parts) - 1, 0, -1):   # the longest importable module prefix
                try:
                    target = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                for attr in parts[cut:]:
                    target = getattr(target, attr)
                assert callable(target), writer
                break
            else:
                pytest.fail(f"{code}: {writer} cannot be imported")


def test_every_code_written_anywhere_in_the_code_is_registered():
    seen = set()
    for path in _sources():
        for lineno, argument, scope in _code_arguments(path):
            where = f"{path.relative_to(ROOT)}:{lineno}"
            codes = _literal_codes(argument, scope)
            if codes is None:      # a helper's parameter: its callers are checked instead
                continue
            for code in codes:
                assert code in ACTIONS, f"{where} writes {code!r}, which audit/actions.py does not register"
                seen.add(code)
    assert seen == set(ACTIONS), f"registered but written nowhere: {sorted(set(ACTIONS) - seen)}"


@pytest.mark.django_db
def test_an_unregistered_code_is_refused_even_when_well_formed(tenant):
    with pytest.raises(ValueError, match="not registered"):
        audit.action("tenant.explode", actor=SYSTEM, tenant=tenant)
    assert audit.action("tenant.update", actor=SYSTEM, tenant=tenant).action == "tenant.update"


def test_no_view_serializer_admin_class_or_task_writes_an_audit_row_itself():
    offenders, still_auditing = [], set()
    for path in _sources():
        if path.name not in EDGE_FILES:
            continue
        relative = path.relative_to(ROOT).as_posix()
        calls = _audit_calls(path)
        if relative in EDGE_FILES_STILL_AUDITING:
            if calls:
                still_auditing.add(relative)
            continue
        offenders += [f"{relative}:{call.lineno}" for call in calls]
    assert not offenders, f"call the service that writes the row instead: {offenders}"
    assert still_auditing == EDGE_FILES_STILL_AUDITING, (
        f"{sorted(EDGE_FILES_STILL_AUDITING - still_auditing)} no longer call audit.action: drop them from "
        f"EDGE_FILES_STILL_AUDITING")


def test_the_scan_sees_a_direct_call_and_a_code_that_is_not_registered(tmp_path):
    """The scanner itself: a view calling audit.action (two spellings) is seen, with its code."""
    sample = tmp_path / "api.py"
    sample.write_text("import audit\nfrom audit.services import action as write\n\n"
                      "def post(request):\n    audit.action('tenant.update', actor=request)\n"
                      "    write('tenant.create' if request else 'tenant.explode', actor=request)\n"
                      "    audit.action(f'tenant.{request}', actor=request)\n\n"
                      "def note(request, code):\n    audit.action(code, actor=request)\n\n"
                      "def put(request):\n    note(request, 'tenant.renamed')\n")
    assert [c.lineno for c in _audit_calls(sample)] == [5, 6, 7, 10]
    codes = {lineno: _literal_codes(argument, scope) for lineno, argument, scope in _code_arguments(sample)}
    assert codes == {5: ["tenant.update"], 6: ["tenant.create", "tenant.explode"],
                     7: ["<an f-string: write the code out>"], 10: None, 13: ["tenant.renamed"]}
