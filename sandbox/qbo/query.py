"""The QBO query language subset: parse a statement, then filter, sort and page rows.

    SELECT * | COUNT(*) FROM Entity
      [WHERE cond AND cond ...]        cond: field (=|<|>|<=|>=|!=) value | field IN (v, ...) | field LIKE '%x%'
      [ORDERBY field [ASC|DESC], ...] [STARTPOSITION n] [MAXRESULTS n]

Keywords, field names and string values compare case-insensitively. Strings are single-quoted with
backslash escapes (\\' is a quote). No OR, JOIN, GROUP BY or projections, as in QBO.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_RESULTS_CAP = 1000
DEFAULT_MAX_RESULTS = 100


class QueryError(ValueError):
    """A statement QBO would refuse: `code` 4000 (parse error) or 4001 (invalid query)."""

    def __init__(self, detail: str, code: str = "4000"):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class Condition:
    path: tuple[str, ...]           # field path as written, e.g. ("MetaData", "LastUpdatedTime")
    op: str                         # = < > <= >= != in like
    values: list[Any]               # literals (one for comparisons, several for IN)
    regex: re.Pattern | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass
class Query:
    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)   # (path, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS

    def mentions(self, name: str) -> bool:
        n = name.lower()
        return any(c.path[-1].lower() == n and len(c.path) == 1 for c in self.where)


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>'(?:\\.|[^'\\])*')
    | (?P<dstr>"(?:\\.|[^"\\])*")
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),*])
    | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<word>[A-Za-z_][\w.]*)
    )""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out = []
    pos = 0
    text = text.strip().rstrip(";").rstrip()
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            rest = text[pos:].lstrip()
            if not rest:
                break
            raise QueryError(f"QueryParserError: Encountered \"{rest[:20]}\" at column {pos + 1}. "
                             "Was expecting one of a field, an operator or a quoted value.")
        pos = m.end()
        kind = m.lastgroup
        raw = m.group(kind)
        if kind in ("str", "dstr"):
            out.append(("str", re.sub(r"\\(.)", r"\1", raw[1:-1], flags=re.S)))
        elif kind == "num":
            out.append(("num", raw))
        elif kind == "op":
            out.append(("op", "!=" if raw == "<>" else raw))
        else:
            out.append((kind, raw))
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self, what: str) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise QueryError(f"QueryParserError: Encountered end of statement. Was expecting {what}.")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in words:
            self.i += 1
            return tok[1].upper()
        return None

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            tok = self.peek()
            raise QueryError(f"QueryParserError: Encountered \"{tok[1] if tok else 'end of statement'}\". "
                             f"Was expecting \"{word}\".")

    def expect(self, kind: str, value: str | None = None) -> Any:
        tok = self.next(value or kind)
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise QueryError(f"QueryParserError: Encountered \"{tok[1]}\". Was expecting \"{value or kind}\".")
        return tok[1]

    def literal(self) -> Any:
        kind, value = self.next("a value")
        if kind == "str":
            return value
        if kind == "num":
            return value
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower()
        raise QueryError(f"QueryParserError: Encountered \"{value}\". Was expecting a quoted value.")

    def integer(self, what: str) -> int:
        kind, value = self.next(what)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise QueryError(f"QueryParserError: {what} must be a number, not \"{value}\".")


def parse(text: str) -> Query:
    p = _Parser(text)
    p.expect_keyword("SELECT")
    count = False
    tok = p.peek()
    if tok == ("punct", "*"):
        p.i += 1
    elif tok and tok[0] == "word" and tok[1].upper() == "COUNT":
        p.i += 1
        p.expect("punct", "(")
        p.expect("punct", "*")
        p.expect("punct", ")")
        count = True
    else:
        raise QueryError("QueryParserError: only SELECT * and SELECT COUNT(*) are supported.")
    while p.peek() == ("punct", ","):             # "SELECT *, Sku" (python-quickbooks for items): ignore
        p.i += 1
        p.next("a field")
    p.expect_keyword("FROM")
    entity = p.expect("word")
    q = Query(entity=entity, count=count)
    if p.keyword("WHERE"):
        while True:
            q.where.append(_condition(p))
            if not p.keyword("AND"):
                break
            if p.peek() is None:
                raise QueryError("QueryParserError: Encountered end of statement after AND.")
    while p.peek() is not None:
        kw = p.keyword("ORDERBY", "ORDER", "STARTPOSITION", "MAXRESULTS")
        if kw == "ORDER":
            p.expect_keyword("BY")
            kw = "ORDERBY"
        if kw == "ORDERBY":
            while True:
                path = tuple(p.expect("word").split("."))
                desc = p.keyword("DESC", "ASC") == "DESC"
                q.order.append((path, desc))
                if p.peek() != ("punct", ","):
                    break
                p.i += 1
        elif kw == "STARTPOSITION":
            q.start = max(1, p.integer("STARTPOSITION"))
        elif kw == "MAXRESULTS":
            q.max_results = min(MAX_RESULTS_CAP, max(0, p.integer("MAXRESULTS")))
        else:
            tok = p.peek()
            if tok and tok[0] == "word" and tok[1].upper() == "OR":
                raise QueryError("QueryParserError: Encountered \" <OR> \"OR\"\". OR is not supported.")
            raise QueryError(f"QueryParserError: Encountered \"{tok[1]}\". Was expecting one of: "
                             "\"AND\", \"ORDERBY\", \"STARTPOSITION\", \"MAXRESULTS\".")
    return q


def _condition(p: _Parser) -> Condition:
    name = p.expect("word")
    path = tuple(name.split("."))
    tok = p.next("an operator")
    if tok[0] == "op":
        return Condition(path, tok[1], [p.literal()])
    if tok[0] == "word" and tok[1].upper() == "IN":
        p.expect("punct", "(")
        values = [p.literal()]
        while p.peek() == ("punct", ","):
            p.i += 1
            values.append(p.literal())
        p.expect("punct", ")")
        return Condition(path, "in", values)
    if tok[0] == "word" and tok[1].upper() == "LIKE":
        pattern = p.literal()
        rx = re.compile("^" + ".*".join(re.escape(part) for part in str(pattern).split("%")) + "$",
                        re.IGNORECASE | re.DOTALL)
        return Condition(path, "like", [pattern], rx)
    raise QueryError(f"QueryParserError: Encountered \"{tok[1]}\" after {name}. Was expecting an operator.")


# ============================================================================ evaluation

def resolve(obj: dict, path: tuple[str, ...]) -> Any:
    """A field value by (case-insensitive) dotted path; a Ref compares by its value."""
    cur: Any = obj
    for part in path:
        if not isinstance(cur, dict):
            return None
        if part in cur:
            cur = cur[part]
            continue
        low = part.lower()
        for k, v in cur.items():
            if k.lower() == low:
                cur = v
                break
        else:
            return None
    if isinstance(cur, dict) and "value" in cur:
        return cur["value"]
    return cur


def parse_time(text: str, tz) -> float:
    """QBO date-time text (or a date) -> epoch seconds; a value without offset is in the company's zone."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(t)
    except ValueError:
        raise QueryError(f"Invalid date/time value: {text}", code="4000")
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or UTC)
    return value.timestamp()


def coerce(literal: Any, sample: Any) -> Any:
    """A literal in the type of the stored value it is compared with (strings case-folded)."""
    if isinstance(sample, bool):
        return str(literal).lower() == "true"
    if isinstance(sample, (int, float)):
        try:
            return float(literal)
        except (TypeError, ValueError):
            return str(literal).casefold()
    return str(literal).casefold()


def comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if value is None:
        return None
    return str(value).casefold()


def matches(value: Any, cond: Condition, literals: list[Any]) -> bool:
    """Does a stored value satisfy the condition? `literals` are already coerced to the value's type."""
    if value is None:
        return False
    if cond.op == "like":
        return bool(cond.regex.match(str(value)))
    v = comparable(value)
    if cond.op == "in":
        return v in literals
    lit = literals[0]
    try:
        if cond.op == "=":
            return v == lit
        if cond.op == "!=":
            return v != lit
        if cond.op == "<":
            return v < lit
        if cond.op == ">":
            return v > lit
        if cond.op == "<=":
            return v <= lit
        if cond.op == ">=":
            return v >= lit
    except TypeError:
        return False
    return False


def sort_key(path: tuple[str, ...]):
    def key(obj: dict) -> tuple:
        v = resolve(obj, path)
        if v is None:
            return (0, "")
        if isinstance(v, bool):
            return (1, int(v))
        if isinstance(v, (int, float)):
            return (1, float(v))
        s = str(v)
        if path[-1].lower() == "id" and s.isdigit():
            return (1, int(s))
        return (2, s.casefold())
    return key
