"""Many rows in one statement of fixed size: `upsert` and `insert` (plain or ignoring conflicts).

On PostgreSQL each call sends one `INSERT ... SELECT FROM ROWS FROM (unnest(%s::type[]), ...)`: one array
parameter per column, however many rows, so neither Django nor the server handles thousands of placeholders (the
ORM's `bulk_create` cost about 75 µs a row in the sync benchmark). A column holding the same value in every row
(the tenant, `now`, often the entity) is sent once, as a scalar: repeating it cost more than `bulk_create` did.
A JSON column is sent as one JSON array (`jsonb_array_elements`), not as an array of JSON texts: the driver
escapes a text array's elements one quote at a time in Python, which was a third of the batch writer's time. For
the same reason a text column (every value a string or None) is sent as one JSON array of strings
(`jsonb_array_elements_text`), encoded in C: the driver's array quoting was the largest part of writing a batch
down (`bench/sync_bench.py`); a column holding a NUL character goes as an array, refused by the driver as before.
Other databases (the demo's SQLite file) get `bulk_create` with the same meaning.

- Rows are model instances or dicts keyed by field name or attname (a missing field takes its default);
  instances are left as they are (no pk is set on them).
- Every concrete field but an auto-incremented pk is written. `auto_now` and `auto_now_add` fields are set to
  the call's one `now` on insert; on a conflict `upsert` sets `auto_now` fields again and keeps the rest.
- Only Django's own field types: a custom field (the encrypted credentials, say) may change values on their
  way to the database in ways an array cast would skip, so it is refused, as are expressions (F(), Now()).
- Tenancy (core/tenancy.py): inside a tenant's scope every row must be that tenant's; `upsert` changes rows
  that exist, so like a queryset's `update` it needs a scope (the tenant's, or `unscoped()`); a conflict target
  of a tenant-owned table must include the tenant, so a conflict never reaches another tenant's row.
- `upsert` given several rows with the same key keeps the last (as upserting them one after another would;
  PostgreSQL refuses to update one row twice in a statement).
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from core.tenancy import ScopeMissing, TenantOwnedModel, current_scope


class TenantMismatch(RuntimeError):
    """A row of another tenant than the active scope's was about to be written."""


_TYPE_MODIFIER = re.compile(r"\(.*?\)")


def upsert(model: type[models.Model], rows: Iterable[models.Model | Mapping[str, Any]], *,
           unique_fields: Sequence[str], update_fields: Sequence[str]) -> int:
    """Insert `rows`; a row whose `unique_fields` match one already stored updates its `update_fields` (and the
    `auto_now` fields) instead. Returns how many rows were sent."""
    if not unique_fields or not update_fields:
        raise ValueError("upsert needs unique_fields and update_fields")
    return _write(model, rows, unique_fields=unique_fields, update_fields=update_fields, ignore_conflicts=False)


def insert(model: type[models.Model], rows: Iterable[models.Model | Mapping[str, Any]], *,
           ignore_conflicts: bool = False, unique_fields: Sequence[str] = ()) -> int:
    """Insert `rows`; with `ignore_conflicts`, a row that conflicts with a stored one (on `unique_fields`, or on
    any unique constraint when none are named) is skipped and the stored one kept. Returns how many rows were
    sent (skipped ones included)."""
    if unique_fields and not ignore_conflicts:
        raise ValueError("unique_fields name a conflict target: pass ignore_conflicts=True")
    return _write(model, rows, unique_fields=unique_fields, update_fields=(), ignore_conflicts=ignore_conflicts)


# ============================================================================ the plan of one call

class _Plan:
    """What a call to one model writes, checked once per (model, fields) and kept."""

    def __init__(self, model: type[models.Model], unique_fields: Sequence[str], update_fields: Sequence[str]):
        meta = model._meta
        self.model = model
        self.fields = [f for f in meta.concrete_fields if f is not meta.auto_field and not f.generated]
        for field in self.fields:
            if not type(field).__module__.startswith("django.db.models."):
                raise TypeError(f"{model.__name__}.{field.name} is a {type(field).__name__}: core.bulk writes "
                                "Django's own field types only")
        by_name = {f.name: f for f in self.fields} | {f.attname: f for f in self.fields}
        unknown = [n for n in [*unique_fields, *update_fields] if n not in by_name]
        if unknown:
            raise ValueError(f"{model.__name__} has no field {', '.join(unknown)} to write")
        self.by_name = by_name
        self.unique = [by_name[n] for n in unique_fields]
        self.tenant_owned = issubclass(model, TenantOwnedModel)
        if self.tenant_owned and "tenant" not in by_name:
            raise TypeError(f"{model.__name__} belongs to a tenant but declares no `tenant` field")
        if self.tenant_owned and self.unique and not any(f.name == "tenant" for f in self.unique):
            raise ValueError(f"{model.__name__} belongs to a tenant: its conflict target must include the tenant")
        updates = [by_name[n] for n in update_fields]
        if set(updates) & set(self.unique):
            raise ValueError("a field cannot be both a conflict target and updated")
        self.update = [*updates, *(f for f in self.fields if getattr(f, "auto_now", False) and f not in updates)
                       ] if updates else []
        self.auto = [f for f in self.fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
        self._sql: dict[tuple, str] = {}

    def sql(self, connection, ignore_conflicts: bool, forms: tuple[str, ...]) -> str:
        key = (connection.alias, ignore_conflicts, forms)
        if key not in self._sql:
            self._sql[key] = self._build_sql(connection, ignore_conflicts, forms)
        return self._sql[key]

    def _build_sql(self, connection, ignore_conflicts: bool, forms: tuple[str, ...]) -> str:
        """Parameters in order: one value per constant column (`SCALAR`), then per other column one array
        (`ARRAY`), or one JSON array: a JSON column's values (`JSON`), a text column's strings (`TEXT`)."""
        quote = connection.ops.quote_name
        columns = [quote(f.column) for f in self.fields]
        sources, names, selects = [], [], []
        for field, column, form in zip(self.fields, columns, forms, strict=True):
            db_type = field.db_type(connection)
            if form == JSON:   # never constant: a SQL NULL is sent as JSON null
                sources.append("jsonb_array_elements(%s::jsonb)")
                names.append(column)
                selects.append(f"NULLIF(v.{column}, 'null'::jsonb)::{db_type}")
                continue
            if form == TEXT:   # text, assigned to the column: an over-long value fails as in an INSERT
                sources.append("jsonb_array_elements_text(%s::jsonb)")
                names.append(column)
                selects.append(f"v.{column}")
                continue
            base = _TYPE_MODIFIER.sub("", db_type).strip()   # no length: an over-long value fails as in an INSERT
            if form == SCALAR:
                selects.append(f"%s::{base}")
            else:
                sources.append(f"unnest(%s::{base}[])")
                names.append(column)
                selects.append(f"v.{column}")
        sql = (f"INSERT INTO {quote(self.model._meta.db_table)} ({', '.join(columns)}) "
               f"SELECT {', '.join(selects)} FROM ROWS FROM ({', '.join(sources)}) AS v({', '.join(names)})")
        target = f"({', '.join(quote(f.column) for f in self.unique)}) " if self.unique else ""
        if self.update:
            sets = ", ".join(f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in self.update)
            return f"{sql} ON CONFLICT {target}DO UPDATE SET {sets}"
        return f"{sql} ON CONFLICT {target}DO NOTHING" if ignore_conflicts else sql


# How a column's values are sent (PostgreSQL): once, as an array, as one JSON array of JSON or of strings.
SCALAR, ARRAY, JSON, TEXT = "scalar", "array", "json", "text"
_TEXT_FIELDS = (models.CharField, models.TextField)


_plans: dict[tuple, _Plan] = {}


def _plan(model, unique_fields, update_fields) -> _Plan:
    key = (model, tuple(unique_fields), tuple(update_fields))
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = _Plan(model, unique_fields, update_fields)
    return plan


# ============================================================================ values

_MISSING = object()


def _column(plan: _Plan, field: models.Field, rows: list, kinds: set) -> list:
    """The values of one field, read column-wise: model instances by attname, dicts by attname or name."""
    if kinds == {"instance"}:
        attname = field.attname
        return [getattr(row, attname) for row in rows]
    if kinds == {"dict"}:
        try:
            return list(map(operator.itemgetter(field.attname), rows))
        except KeyError:
            pass
    return [_value(field, row) for row in rows]


def _value(field: models.Field, row) -> Any:
    if isinstance(row, models.Model):
        return getattr(row, field.attname)
    if field.attname in row:
        return row[field.attname]
    if field.name in row:
        value = row[field.name]
        return getattr(value, "pk", value) if field.is_relation else value
    return field.get_default()


def _kinds(plan: _Plan, rows: list) -> set:
    kinds = set()
    keys: set = set()
    for row in rows:
        if type(row) is dict:
            kinds.add("dict")
            keys.update(row)
        elif isinstance(row, plan.model):
            kinds.add("instance")
        elif isinstance(row, Mapping):
            kinds.add("dict")
            keys.update(row)
        else:
            raise TypeError(f"a row of {plan.model.__name__} is a model instance or a dict, not {type(row).__name__}")
    unknown = keys - plan.by_name.keys()
    if unknown:
        raise TypeError(f"{plan.model.__name__} has no field {', '.join(sorted(map(str, unknown)))}")
    return kinds


def _columns(plan: _Plan, rows: list) -> list[list]:
    """One list of values per field, in the plan's order; of rows with the same key, the last one."""
    kinds = _kinds(plan, rows)
    now = timezone.now()
    columns = []
    for field in plan.fields:
        if field in plan.auto:
            columns.append([_now(field, now)] * len(rows))
            continue
        values = _column(plan, field, rows, kinds)
        if any(hasattr(kind, "resolve_expression") for kind in set(map(type, values))):
            raise TypeError(f"{plan.model.__name__}.{field.name}: expressions are not written in bulk")
        columns.append(values)
    if plan.update:
        keys = [plan.fields.index(f) for f in plan.unique]
        last = {tuple(columns[k][i] for k in keys): i for i in range(len(rows))}
        if len(last) < len(rows):
            kept = sorted(last.values())
            columns = [[column[i] for i in kept] for column in columns]
    return columns


# Values the field would pass through unchanged on PostgreSQL: a column of them skips the per-value preparation.
_NATIVE = {models.CharField: str, models.TextField: str, models.UUIDField: uuid.UUID, models.BooleanField: bool}


def _prepared(field: models.Field, values: list, connection) -> list | str:
    """The column's values as the driver takes them (what `bulk_create` would send); a JSON column's as one
    JSON array text."""
    if isinstance(field, models.JSONField):   # one JSON array of the column: one escape, no per-value quoting
        return json.dumps(values, cls=field.encoder) if field.encoder else json.dumps(values)
    native = _NATIVE.get(type(field.target_field if field.is_relation else field))
    if native is not None and set(map(type, values)) == {native}:
        return values
    prep = field.get_db_prep_save
    return [prep(value, connection) for value in values]


def _now(field: models.Field, now: dt.datetime):
    return now if isinstance(field, models.DateTimeField) else dt.date.today()


def _check_scope(plan: _Plan, tenant_ids: Iterable) -> None:
    if not plan.tenant_owned:
        return
    scope = current_scope()
    if scope is None:
        if plan.update:
            raise ScopeMissing(f"an upsert of {plan.model.__name__} changes stored rows: run it inside "
                               "tenant_scope(tenant), or inside unscoped() for a job that works across tenants.")
        return
    if scope.unscoped:
        return
    others = {str(t) for t in tenant_ids} - {str(scope.tenant_id)}
    if others:
        raise TenantMismatch(f"rows of {plan.model.__name__} for another tenant than the scope's "
                             f"({len(others)} other tenant id(s))")


# ============================================================================ the write

def _write(model, rows, *, unique_fields, update_fields, ignore_conflicts) -> int:
    rows = list(rows)
    if not rows:
        return 0
    plan = _plan(model, unique_fields, update_fields)
    columns = _columns(plan, rows)
    # A column whose rows all hold the same value (the tenant, `now`, often the entity) is sent once.
    forms = [JSON if isinstance(f, models.JSONField) else SCALAR if column.count(column[0]) == len(column) else ARRAY
             for f, column in zip(plan.fields, columns, strict=True)]
    if plan.tenant_owned:
        tenant = plan.fields.index(plan.by_name["tenant"])
        _check_scope(plan, columns[tenant][:1] if forms[tenant] == SCALAR else columns[tenant])
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        _fallback(plan, columns, ignore_conflicts)
        return len(columns[0])
    if all(form == SCALAR for form in forms):
        forms[0] = ARRAY   # one array at least: it says how many rows
    params_scalar, params_columns = [], []
    for i, (field, column, form) in enumerate(zip(plan.fields, columns, forms, strict=True)):
        if form == SCALAR:
            params_scalar.append(_prepared(field, column[:1], connection)[0])
            continue
        text = _as_text(field, column) if form == ARRAY else None
        if text is not None:
            forms[i] = TEXT
            params_columns.append(text)
        else:
            params_columns.append(_prepared(field, column, connection))
    with connection.cursor() as cursor:
        cursor.execute(plan.sql(connection, ignore_conflicts, tuple(forms)), [*params_scalar, *params_columns])
    return len(columns[0])


def _as_text(field: models.Field, values: list) -> str | None:
    """A text column's values as one JSON array of strings (and nulls), or None to send it as an array: another
    field type, a value that is not a string, or a NUL character (PostgreSQL's text cannot hold one: the driver
    refuses it, as it always did)."""
    if not isinstance(field, _TEXT_FIELDS) or field.is_relation:
        return None
    if not all(kind is type(None) or issubclass(kind, str) for kind in set(map(type, values))):
        return None     # str subclasses (text choices) are strings to the JSON encoder too
    if "\x00" in "".join(filter(None, values)):
        return None
    return json.dumps(values)


def _fallback(plan: _Plan, columns: list[list], ignore_conflicts: bool) -> None:
    """bulk_create of the same rows, for databases without arrays (the demo's SQLite file)."""
    objs = [plan.model(**{f.attname: column[i] for f, column in zip(plan.fields, columns, strict=True)})
            for i in range(len(columns[0]))]
    manager = plan.model._base_manager
    if plan.update:
        manager.bulk_create(objs, update_conflicts=True, unique_fields=[f.name for f in plan.unique],
                            update_fields=[f.name for f in plan.update])
    else:
        manager.bulk_create(objs, ignore_conflicts=ignore_conflicts)
