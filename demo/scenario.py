"""The demo's story: onboard a tenant through the public API, sync, change things, sync again, check.

Everything a partner portal does goes over HTTP to our server (`portal.Portal`); the syncs run in this
process the way a worker runs a queued run (the code of `manage.py sync`), so each step gets a progress
bar; their results are read back through the API. The sandboxes are changed with their own helpers.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management import call_command
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from demo import environment
from demo.checks import Checks, DemoFailed, duplicates_in_qbo
from demo.portal import ApiError, Portal, follow_browser_redirects
from demo.server import LiveServer
from sandbox.datagen import MALFORMED_CASES, load_dataset
from sandbox.jaggaer.app import DEFAULT_CLIENT_ID as JAGGAER_CLIENT_ID
from sandbox.jaggaer.app import DEFAULT_CLIENT_SECRET as JAGGAER_CLIENT_SECRET

OUTCOMES = ("created", "updated", "unchanged", "held", "failed", "skipped")
ENTITIES = ("suppliers", "purchase_orders", "invoices")
WRITTEN = ("created", "updated")
PREDICTIONS = ("create", "link", "update", "unchanged", "skip", "hold", "fail")
TENANT = {"name": "Midwest Precision Components", "slug": "midwest-precision", "time_zone": "America/Chicago",
          "sync_hour": 2}
NEW_POS, APPROVED_INVOICES = 3, 3
STORM = [  # (path pattern, how many 429s in a row, Retry-After): what Intuit sends when a realm is hammered
    (r"/batch", 3, 1),
    (r"/cdc", 2, None),     # Intuit's 429 has no Retry-After: the client waits HTTP_THROTTLE_DEFAULT_WAIT
]


@dataclass
class Options:
    dataset: str = "demo"
    database_file: Path = Path("var/demo.sqlite3")
    intuit_limits: bool = False
    time_budget: float = 120.0


@dataclass
class RunReport:
    label: str
    run: dict                                   # GET /syncs/{id}
    seconds: float
    qbo: dict[str, int]                         # requests the QBO sandbox received, by kind
    jaggaer: int
    records: list[dict] = field(default_factory=list)   # its audit rows (GET /audit/records?run=)

    def written(self, entity: str | None = None) -> set[tuple[str, str]]:
        return {(r["entity"], r["source_id"]) for r in self.records
                if r["outcome"] in WRITTEN and (entity is None or r["entity"] == entity)}

    def count(self, entity: str, outcome: str) -> int:
        return int((self.run["counts"].get(entity) or {}).get(outcome, 0))


class Demo:
    def __init__(self, options: Options, console: Console):
        self.options = options
        self.console = console
        self.checks = Checks(console)
        self.started = time.monotonic()
        self.portal: Portal | None = None
        self.sb = None
        self.server: LiveServer | None = None
        self.tenant: dict = {}
        self.database: Path | None = None

    # ------------------------------------------------------------------ helpers
    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def chapter(self, title: str) -> None:
        self.console.print()
        self.console.rule(f"[bold cyan]{title}[/]  [dim]{time.monotonic() - self.started:5.1f} s[/]", align="left")

    def api(self, what: str, method: str, path: str, payload: Any = None, **query) -> Any:
        """One call to our API as the portal makes it; a failure stops the demo, naming the step."""
        assert self.portal is not None
        full = path if path.startswith("/api/") or path.startswith("/healthz") else f"{self.t}{path}"
        try:
            answer = self.portal.request(method, full, payload, query=query or None)
        except (ApiError, OSError) as e:
            self.checks.require(what, False, str(e))
        call = self.portal.calls[-1]
        shown = call.path.replace(self.t, "…/tenants/{id}") if self.tenant else call.path
        self.say(f"  [dim]{method:<6}[/]{shown}  [green]{call.status}[/]  [dim]{what}[/]")
        return answer

    @property
    def t(self) -> str:
        return f"/api/v1/tenants/{self.tenant['id']}"

    # ------------------------------------------------------------------ 1. environment
    def setup(self, stack: contextlib.ExitStack) -> None:
        o = self.options
        self.chapter("1 · Embedded environment: SQLite, both sandboxes, our API on a free port")
        started = time.monotonic()
        db = self.database = environment.use_fresh_sqlite(o.database_file)
        call_command("migrate", interactive=False, verbosity=0)
        self.say(f"  database   {db}  (a fresh SQLite file, migrated in {time.monotonic() - started:.1f} s;"
                 " DATABASE_URL is not used)")
        limits = environment.Limits.choose(intuit=o.intuit_limits)
        self.sb = environment.start(o.dataset, limits)
        stack.callback(self.sb.stop)
        self.server = LiveServer()
        environment.configure(sandboxes=self.sb, public_url=self.server.url, limits=limits)
        self.server.start()
        stack.callback(self.server.stop)
        j = self.sb.jaggaer
        self.say(f"  JAGGAER    {self.sb.jaggaer_url}  dataset [bold]{o.dataset}[/]: {j.count('suppliers')} suppliers, "
                 f"{j.count('purchase_orders')} POs, {j.count('invoices')} invoices")
        self.say(f"  QBO        {self.sb.qbo_url}  realm {self.sb.qbo.default_realm_id}")
        self.say(f"  our API    {self.server.url}  (Django's threaded WSGI server in a background thread; "
                 "tasks run in-process, no broker)")
        self.say(f"  QBO limits per realm: the sandbox enforces {limits.describe(limits.sandbox)}; our realm limiter "
                 f"keeps to {limits.describe(limits.ours)}")
        if limits.raised:
            self.say("  [yellow]both raised tenfold for the demo[/] (Intuit allows 500/min, 10/s, 40 batches/min); "
                     "`manage.py demo --intuit-limits` keeps Intuit's, and the first sync then waits out a minute")
        self.say(f"  a 429 without Retry-After waits {environment.DEMO_THROTTLE_WAIT:g} s here "
                 "(HTTP_THROTTLE_DEFAULT_WAIT; 60 s in production)")
        self.portal = Portal(self.server.url)
        self.api("our server answers /healthz", "GET", "/healthz")

    # ------------------------------------------------------------------ 2. onboarding
    def onboard(self) -> dict:
        from core.actor import SYSTEM
        from tenants.services import partner_create

        self.chapter("2 · A partner portal onboards its customer through the REST API")
        _, key = partner_create(name="Demo Portal", actor=SYSTEM)
        self.portal.api_key = key
        self.say(f"  partner key for 'Demo Portal' created (prefix {key.split('.')[0]}, stored hashed; "
                 "`manage.py create_partner` does the same)")
        self.tenant = self.api("create the tenant", "POST", "/api/v1/tenants", TENANT)
        self.say(f"    tenant [bold]{self.tenant['name']}[/] id {self.tenant['id']}")
        self.api("configure JAGGAER", "PUT", "/connections/jaggaer",
                 {"api_base_url": self.sb.jaggaer_url, "client_id": JAGGAER_CLIENT_ID,
                  "client_secret": JAGGAER_CLIENT_SECRET})
        start = self.api("start QuickBooks' OAuth connect flow", "POST", "/connections/qbo/authorize", {})
        hops, answer = follow_browser_redirects(start["authorization_url"])
        for hop in hops:
            self.say(f"  [dim]GET   [/]{hop.url.split('?')[0]}  [green]{hop.status}[/]  [dim]the customer's browser[/]")
        self.checks.require("QuickBooks connected through our authorize endpoint, Intuit's consent and our callback",
                            isinstance(answer, dict) and answer.get("status") == "connected",
                            f"callback answered {answer.get('status')}, realm {answer.get('realm_id')}"
                            if isinstance(answer, dict) else f"callback answered {answer!r:.200}")
        overview = self.api("read both connections", "GET", "/connections")
        self.say(f"    JAGGAER {overview['jaggaer']['status']}, QuickBooks {overview['qbo']['status']} "
                 f"(realm {overview['qbo']['realm_id']})")
        for system in ("jaggaer", "qbo"):
            ping = self.api(f"ping {system}", "POST", f"/connections/{system}/ping")
            self.checks.require(f"ping {system}", ping.get("ok") is True, _ping_detail(ping))
        return overview

    # ------------------------------------------------------------------ 3. mappings
    def align(self) -> str:
        """Import the catalogs, show the alignment report, fix one mapping, set the AP account; the GL code
        left unmapped on purpose (its records are held by the first sync)."""
        self.chapter("3 · Catalogs, the alignment report, one mapping fixed")
        run = self.api("import both catalogs (a sync of the catalogs step only)", "POST", "/syncs",
                       {"entities": ["catalogs"]})
        counts = run["counts"].get("catalogs") or {}
        self.checks.require("catalogs imported", run["status"] == "succeeded",
                            f"run {run['status']}: " + ", ".join(
                                f"{k} {v}" for k, v in counts.items() if k.startswith(("qbo_", "jaggaer_"))))
        report = self.api("alignment report", "GET", "/alignment")
        self._alignment_table(report)
        gl = report["gl_account"]["jaggaer_without_qbo"]
        accounts = self.api("QuickBooks accounts", "GET", "/catalogs/qbo", kind="gl_account", active="true",
                            present="true", page_size=500)["results"]
        expense = [a for a in accounts if a["classification"] == "Expense" and a["account_type"] == "Expense"]
        stale = next((g for g in gl if g["state"] == "stale" and g["jaggaer_active"]), None)
        unmapped = [g for g in gl if g["state"] == "unmapped" and g["jaggaer_active"]]
        if stale is None or not unmapped or not expense:
            raise DemoFailed("the dataset has a stale and an unmapped GL code and QBO expense accounts",
                             f"stale={stale} unmapped={unmapped} expense accounts={len(expense)}")
        target = _pick_account(expense, ("Maintenance & repairs",))
        fixed = self.api(f"map GL {stale['code']} to '{target['name']}'", "PUT",
                         f"/mappings/gl_account/{stale['code']}", {"qbo_id": target["qbo_id"]})
        self.checks.require(f"GL {stale['code']} mapped", fixed["state"] == "mapped", _mapping_detail(fixed))
        self.say(f"    GL {stale['code']} {stale['name']!r}: its QuickBooks account is inactive; mapped to "
                 f"{target['name']!r} instead")
        later = unmapped[0]
        self.say(f"    GL {later['code']} {later['name']!r} is left unmapped on purpose: what uses it is held")
        settings = self.api("sync settings", "GET", "/sync-settings")
        if not settings.get("ap_account_id"):
            ap = self.api("Accounts Payable accounts in QuickBooks", "GET", "/catalogs/qbo", kind="gl_account",
                          account_sub_type="AccountsPayable", active="true")["results"]
            if not ap:
                raise DemoFailed("QuickBooks has an Accounts Payable account", "none in the QBO catalog")
            settings = self.api("set the AP account for purchase orders and bills", "PATCH", "/sync-settings",
                                {"ap_account_id": ap[0]["qbo_id"]})
            self.say(f"    AP account: {settings['ap_account_name']!r}")
        return later["code"]

    def _alignment_table(self, report: dict) -> None:
        table = Table(title="Alignment: JAGGAER codes without a valid QuickBooks counterpart", title_justify="left")
        for column in ("kind", "code", "name", "state", "why"):
            table.add_column(column)
        for kind in ("gl_account", "department"):
            for row in report[kind]["jaggaer_without_qbo"]:
                table.add_row(kind, row["code"], row["name"], row["state"], row["detail"])
        self.console.print(table)

    # ------------------------------------------------------------------ syncs
    def sync(self, label: str) -> RunReport:
        from core.tenancy import tenant_scope
        from sync.models import SyncRun
        from sync.runs.lifecycle import sync_request, sync_run_perform
        from tenants.models import Tenant

        tenant = Tenant.objects.get(pk=self.tenant["id"])
        qbo_before, jaggaer_before = len(self.sb.qbo_server.log.entries()), len(self.sb.jaggaer_server.log.entries())
        started = time.monotonic()
        with tenant_scope(tenant):   # as `manage.py sync` does; the run itself enters its own
            run = sync_request(tenant=tenant, trigger=SyncRun.Trigger.COMMAND, enqueue=False)
        bars: dict[str, int] = {}
        with Progress(SpinnerColumn(), TextColumn("  [bold]{task.fields[step]:<16}"), BarColumn(),
                      TextColumn("{task.completed:>5} records  [dim]{task.fields[detail]}"), TimeElapsedColumn(),
                      console=self.console) as progress:
            def report(step: str, counts: dict) -> None:
                if step not in bars:
                    for other in bars.values():
                        progress.update(other, total=progress.tasks[other].completed or 1)
                    bars[step] = progress.add_task(step, total=None, step=step, detail="")
                done = sum(v for k, v in counts.items() if k in OUTCOMES and isinstance(v, int))
                if step == "catalogs":
                    done = sum(v for k, v in counts.items() if k.startswith(("qbo_", "jaggaer_")))
                progress.update(bars[step], completed=done,
                                detail="  ".join(f"{k} {v}" for k, v in counts.items()
                                                 if k in OUTCOMES and isinstance(v, int) and v))

            sync_run_perform(run_id=run.pk, progress=report)
            for bar in bars.values():
                progress.update(bar, total=progress.tasks[bar].completed or 1)
        seconds = time.monotonic() - started
        answer = self.api(f"{label}: read the run back", "GET", f"/syncs/{run.pk}")
        qbo_entries = self.sb.qbo_server.log.entries()[qbo_before:]
        jaggaer_count = len(self.sb.jaggaer_server.log.entries()) - jaggaer_before
        records = self.portal.all_pages(f"{self.t}/audit/records", run=str(run.pk), page_size=500)
        result = RunReport(label, answer, seconds, _qbo_kinds(qbo_entries), jaggaer_count, records)
        self.console.print(self._summary(result))
        q = result.qbo
        self.say(f"  requests: QuickBooks {q['total']} (queries {q['query']}, batches {q['batch']}, other {q['other']};"
                 f" answered 429: {q['429']}, 401: {q['401']}; token calls {q['token']})  ·  JAGGAER {result.jaggaer}"
                 f"  ·  time {result.seconds:.1f} s")
        return result

    def _summary(self, r: RunReport) -> Table:
        table = Table(title=f"{r.label}: {r.run['status']} in {r.seconds:.1f} s", title_justify="left")
        table.add_column("entity")
        for outcome in OUTCOMES:
            table.add_column(outcome, justify="right")
        for entity in ENTITIES:
            counts = r.run["counts"].get(entity) or {}
            table.add_row(entity, *(str(counts.get(o, 0)) for o in OUTCOMES))
        return table

    def no_duplicates(self, when: str) -> None:
        dup = duplicates_in_qbo(self.sb.qbo)
        self.say(f"  QuickBooks now holds {dup.vendor_count} vendors and {dup.bill_count} bills: [bold]{dup.line}[/]")
        self.checks.check(f"no duplicates in QuickBooks {when}", dup.vendors == 0 and dup.bills == 0,
                          dup.line + (f" ({dup.vendor_names[:3]} {dup.bill_keys[:3]})"
                                      if dup.vendors or dup.bills else ""))

    # ------------------------------------------------------------------ 3b. see if we fit
    def fit_report(self) -> dict:
        """The fit report before the first write: what the first sync will do, with nothing written."""
        self.chapter("3b · See if we fit: the fit report, before anything is written to QuickBooks")
        qbo_before = len(self.sb.qbo_server.log.entries())
        report = self.api("ask for a fit report (the next sync in dry-run mode)", "POST", "/fit-reports",
                          {"max_pages": 1000})
        if report["status"] in ("queued", "running"):
            report = self.api("read the fit report", "GET", f"/fit-reports/{report['id']}")
        self.checks.require("the fit report succeeded", report["status"] == "succeeded",
                            (report.get("error") or {}).get("message", report["status"]))
        summary = report["summary"]
        table = Table(title="what the first sync would do" + (" (a SAMPLE)" if report["capped"] else ""),
                      title_justify="left")
        table.add_column("entity")
        for prediction in PREDICTIONS:
            table.add_column(prediction, justify="right")
        for entity in ENTITIES:
            counts = summary["entities"].get(entity) or {}
            table.add_row(entity, *(str(counts.get(p, 0)) for p in PREDICTIONS))
        self.console.print(table)
        for hold in summary["holds"][:6]:
            self.say(f"    would hold {hold['count']:>3}: {hold['reason']}  [dim]{hold['release'][:90]}…[/]")
        for gap in summary["mapping_gaps"][:3]:
            self.say(f"    mapping gap: {gap['kind']} {gap['code']} blocks {gap['records_blocked']} record(s)")
        budget = summary["budget"]
        self.say(f"    QuickBooks budget of the first sync: {budget['requests']} requests ({budget['reads']} reads, "
                 f"{budget['batches']} batches of {budget['writes']} writes), about {budget['seconds']} s at "
                 "Intuit's limits")
        writes = [e for e in self.sb.qbo_server.log.entries()[qbo_before:]
                  if e["method"] == "POST" and "/query" not in e["endpoint"]]
        self.checks.check("the fit report wrote nothing to QuickBooks", not writes, f"{len(writes)} writes")
        records = self.portal.all_pages(f"{self.t}/fit-reports/{report['id']}/records", page_size=500)
        return {"report": report, "records": {(r["entity"], r["source_id"]): (r["outcome"], r["reason"])
                                              for r in records}}

    def fit_was_exact(self, fit: dict, r1: RunReport) -> None:
        actual: dict[tuple[str, str], tuple[str, str]] = {}
        for row in sorted(r1.records, key=lambda r: r["id"]):
            actual[(row["entity"], row["source_id"])] = (row["outcome"], row["reason"] or "")
        predicted = fit["records"]
        wrong = sorted(k for k in set(actual) | set(predicted) if actual.get(k) != predicted.get(k))
        self.checks.check("the fit report predicted every record of the first sync (outcome and reason)",
                          not wrong and not fit["report"]["capped"],
                          f"{len(actual)} records, {len(wrong)} predicted otherwise"
                          + (f": {[(k, predicted.get(k), actual.get(k)) for k in wrong[:3]]}" if wrong else ""))

    # ------------------------------------------------------------------ 4. first sync
    def first_sync(self) -> RunReport:
        self.chapter("4 · The first full sync")
        r1 = self.sync("first sync")
        self.checks.require("first sync succeeded", r1.run["status"] == "succeeded", _error(r1.run))
        self.checks.check("first sync wrote vendors, purchase orders and bills",
                          all(r1.count(e, "created") > 0 for e in ENTITIES),
                          ", ".join(f"{e} {r1.count(e, 'created')}" for e in ENTITIES))
        self.checks.check("the realm limiter kept the first sync inside QuickBooks' limits (no 429)",
                          r1.qbo["429"] == 0, f"{r1.qbo['total']} requests, {r1.qbo['429']} answered 429")
        self.malformed_are_held(r1)
        self.no_duplicates("after the first sync")
        return r1

    def malformed_are_held(self, r1: RunReport) -> None:
        """The dataset's malformed records (sandbox/datagen/README.md) are held with their reason, none written."""
        cases = load_dataset(self.options.dataset, 42).cases
        rows = {(r["entity"], r["source_id"]): r for r in r1.records}
        wrong = []
        for name in MALFORMED_CASES:
            for rec in cases[name]["records"]:
                row = rows.get((rec["entity"], rec["id"])) or {}
                if (row.get("outcome"), row.get("reason")) != ("held", cases[name]["reason"]):
                    wrong.append(f"{name} {rec['id']}: {row.get('outcome')} {row.get('reason')}")
        count = sum(len(cases[name]["records"]) for name in MALFORMED_CASES)
        self.say(f"  {count} malformed records held before any QuickBooks look-up, e.g. "
                 + "; ".join(f"{name} → {cases[name]['reason']}" for name in MALFORMED_CASES[:4]) + " …")
        self.checks.check("every malformed record is held with its reason and none is written", not wrong,
                          f"{count} held" if not wrong else "; ".join(wrong[:4]))

    # ------------------------------------------------------------------ 5. changes and trouble
    def change_things(self, r1: RunReport, held_code: str) -> dict:
        """Mutate JAGGAER, inject faults, fix the held mapping. Returns what the second sync must write."""
        self.chapter("5 · Meanwhile: JAGGAER changes, QuickBooks has a bad minute, a mapping is fixed")
        j = self.sb.jaggaer
        expected: set[tuple[str, str]] = set()
        created = {e: sorted(r["source_id"] for r in r1.records if r["entity"] == e and r["outcome"] == "created")
                   for e in ENTITIES}
        if not all(created.values()):
            raise DemoFailed("the first sync created records of every kind", str({k: len(v) for k, v in
                                                                                   created.items()}))
        # a rename
        supplier_id = created["suppliers"][0]
        old = j.get("suppliers", supplier_id)["companyName"]
        j.rename_supplier(supplier_id, f"{old} (renamed)")
        expected.add(("suppliers", supplier_id))
        self.say(f"  JAGGAER: supplier {supplier_id} {old!r} renamed to {old + ' (renamed)'!r}")

        # purchase orders: a cancelled one, new ones
        invoiced_numbers = Counter(number for inv in j.records("invoices")
                                   for number in {line.get("poNumber") for line in inv.get("lineList") or []})
        written_pos = [j.get("purchase_orders", pid) for pid in created["purchase_orders"]]
        open_pos = [po for po in written_pos if po["status"] in ("Approved", "Issued")]
        if len(open_pos) < NEW_POS + 1:
            raise DemoFailed("the first sync wrote open purchase orders", f"{len(open_pos)} open")
        # the open PO with the fewest invoices against it (its bills stay; the PO is closed in QuickBooks)
        cancelled = min(open_pos, key=lambda po: (invoiced_numbers.get(po["poNumber"], 0), po["poId"]))
        j.cancel_po(cancelled["poId"])
        expected.add(("purchase_orders", cancelled["poId"]))
        self.say(f"  JAGGAER: PO {cancelled['poNumber']} ({cancelled['poId']}) cancelled "
                 f"(invoices against it: {invoiced_numbers.get(cancelled['poNumber'], 0)}; its bills stay)")
        existing_ids = {po.get("poId") for po in j.records("purchase_orders")}
        existing_numbers = {po.get("poNumber") for po in j.records("purchase_orders")}
        templates = [po for po in open_pos if po["poId"] != cancelled["poId"]][:NEW_POS]
        new_ids = []
        for n, template in enumerate(templates, start=1):
            po = copy.deepcopy(template)
            po["poId"] = _fresh(f"PO-DEMO-{n}", existing_ids)
            po["poNumber"] = _fresh(f"45009{n:05d}", existing_numbers)
            po["status"] = "Approved"
            j.upsert("purchase_orders", po)
            expected.add(("purchase_orders", po["poId"]))
            new_ids.append(f"{po['poNumber']} ({po['poId']})")
        self.say(f"  JAGGAER: {len(new_ids)} new approved POs: {', '.join(new_ids)}")

        # invoices waiting for approval, whose POs, supplier and mappings are all in QuickBooks already
        mapped = self._mapped_codes()
        po_numbers = {j.get("purchase_orders", pid)["poNumber"] for pid in created["purchase_orders"]}
        suppliers = set(created["suppliers"])
        waiting = sorted(r["source_id"] for r in r1.records
                         if r["entity"] == "invoices" and r["reason"] == "invoice_not_approved")
        approvable = [i for i in waiting
                      if _postable(j.get("invoices", i), po_numbers, suppliers, mapped)][:APPROVED_INVOICES]
        if not approvable:
            raise DemoFailed("the dataset has invoices waiting for approval", "none that could be approved")
        for invoice_id in approvable:
            j.approve_invoice(invoice_id)
            expected.add(("invoices", invoice_id))
        self.say(f"  JAGGAER: {len(approvable)} invoices approved: {', '.join(approvable)}")

        # records touched only: a new lastModTime / lastUpdate and nothing else
        touched = load_dataset(self.options.dataset, 42).cases["touch_only"]
        touched = {(entity, touched[entity][0]) for entity in ENTITIES}
        for entity, source_id in sorted(touched):
            j.patch(entity, source_id, {})
        self.say("  JAGGAER: touched only (a new timestamp, nothing else): "
                 + ", ".join(sid for _, sid in sorted(touched)))

        # trouble at Intuit
        for path, count, retry_after in STORM:
            self.sb.qbo_server.faults.inject("429", count=count, path=path, retry_after=retry_after)
        storm = sum(count for _, count, _ in STORM)
        self.say(f"  QuickBooks: a 429 storm is armed ({storm} throttled answers: "
                 + ", ".join(f"{c} on {p}" + (f" with Retry-After {ra}" if ra else " without Retry-After")
                             for p, c, ra in STORM) + ")")
        expired = self.sb.qbo.expire_tokens()
        self.say(f"  QuickBooks: the access token expired early ({expired['access_tokens']} revoked; our database "
                 "still believes it valid for an hour)")

        # the held records' mapping, fixed through the API
        holds = self.portal.all_pages(f"{self.t}/holds", page_size=500)
        waiting_on = [h for h in holds if h["reason"] == "gl_unmapped" and h["waits_on"] == [held_code]]
        invoices_held = sorted(h["source_id"] for h in waiting_on if h["entity"] == "invoices")
        if not invoices_held:
            raise DemoFailed(f"an invoice is held for unmapped GL {held_code}", "no such hold after the first sync")
        # the invoice to follow: one on a single department (a second reason would keep it held)
        spotlight = next((i for i in invoices_held if _single_department(j.get("invoices", i))), invoices_held[0])
        self.say(f"  held since the first sync on GL {held_code}: {len(invoices_held)} invoices and "
                 f"{len(waiting_on) - len(invoices_held)} POs; we follow invoice {spotlight}")
        accounts = self.api("QuickBooks accounts", "GET", "/catalogs/qbo", kind="gl_account", active="true",
                            present="true", page_size=500)["results"]
        expense = [a for a in accounts if a["classification"] == "Expense" and a["account_type"] == "Expense"]
        target = _pick_account(expense, ("Professional services",))
        fixed = self.api(f"map GL {held_code} to '{target['name']}'", "PUT", f"/mappings/gl_account/{held_code}",
                         {"qbo_id": target["qbo_id"]})
        self.checks.require(f"GL {held_code} mapped", fixed["state"] == "mapped", _mapping_detail(fixed))
        return {"changed": expected, "storm": storm, "spotlight": spotlight, "held_code": held_code,
                "renamed": (supplier_id, f"{old} (renamed)"), "cancelled": cancelled["poId"],
                "new_pos": sorted(sid for e, sid in expected if e == "purchase_orders" and sid != cancelled["poId"]),
                "approved": approvable, "touched": touched,
                "released": {(h["entity"], h["source_id"]) for h in waiting_on}}

    def _mapped_codes(self) -> dict[str, set[str]]:
        rows = self.portal.all_pages(f"{self.t}/mappings", state="mapped", page_size=500)
        out: dict[str, set[str]] = {"gl_account": set(), "department": set()}
        for row in rows:
            out.setdefault(row["kind"], set()).add(row["code"])
        return out

    # ------------------------------------------------------------------ 6. second sync
    def second_sync(self, plan: dict) -> RunReport:
        self.chapter("6 · The second sync: only the changes move, the faults are absorbed, the hold is released")
        token_before = _token_calls(self.sb.qbo_server)
        r2 = self.sync("second sync")
        c = self.checks
        c.require("second sync succeeded despite the 429 storm and the expired token",
                  r2.run["status"] == "succeeded", _error(r2.run))
        written, changed, released = r2.written(), plan["changed"], plan["released"]
        holds = self.portal.all_pages(f"{self.t}/holds", page_size=500)
        held_now = {(h["entity"], h["source_id"]): h for h in holds}
        # a record released from the GL hold is written, or held again for a reason of its own
        held_again = {key: held_now[key] for key in released - written if key in held_now}
        unexplained = released - written - set(held_again)
        c.check("only the changes moved: every change written, nothing written but changes and released holds",
                changed <= written and written <= changed | released and not unexplained,
                f"{len(written)} written: {len(written & changed)} of {len(changed)} changes, "
                f"{len(written & released)} of {len(released)} released"
                + (f"; not written {sorted(changed - written)[:5]}" if not changed <= written else "")
                + (f"; written unexpectedly {sorted(written - changed - released)[:5]}"
                   if not written <= changed | released else "")
                + (f"; released but neither written nor held {sorted(unexplained)[:5]}" if unexplained else ""))
        self.console.print(_moved_table(r2, changed, released, held_again))
        outcomes = {(r["entity"], r["source_id"]): r["outcome"] for r in r2.records}
        touched = {key: outcomes.get(key) for key in sorted(plan["touched"])}
        c.check("records touched only (new timestamp) were read and left unchanged: no QuickBooks write",
                all(o == "unchanged" for o in touched.values()),
                ", ".join(f"{sid} {o}" for (_, sid), o in touched.items()))
        for (entity, source_id), hold in sorted(held_again.items()):
            self.say(f"    {entity[:-1].replace('_', ' ')} {source_id}: no longer waits on GL {plan['held_code']}, "
                     f"now held for {hold['reason']} [dim]({hold['message'][:80]}…)[/]")
        failed = sum(r2.count(e, "failed") for e in ENTITIES)
        throttled = self.portal.all_pages(f"{self.t}/audit/api-calls", run=r2.run["id"], failed="true",
                                          page_size=500)
        for call in sorted(throttled, key=lambda call: call["id"]):
            self.say(f"    call log: {call['system']} {call['method']} {call['path'].split('?')[0]} attempt "
                     f"{call['attempt']} answered {call['status']} {call['code'] or ''}")
        c.check("the 429 storm was absorbed: every throttled call retried, no record failed",
                r2.qbo["429"] == plan["storm"] and failed == 0,
                f"{r2.qbo['429']} of {plan['storm']} throttled answers received, {failed} records failed")
        refreshed = _token_calls(self.sb.qbo_server) - token_before
        connection = self.api("QuickBooks connection after the run", "GET", "/connections/qbo")
        c.check("the expired access token was refreshed once and the connection stays connected",
                r2.qbo["401"] >= 1 and refreshed == 1 and connection["status"] == "connected",
                f"{r2.qbo['401']} answered 401, {refreshed} token refresh, connection {connection['status']}")
        spotlight = plan["spotlight"]
        trail = self.portal.all_pages(f"{self.t}/audit/records", entity="invoices", source_id=spotlight)
        for row in sorted(trail, key=lambda r: r["id"]):
            self.say(f"    invoice {spotlight}: {row['outcome']:<8} {row['reason'] or ''} "
                     f"[dim]{row['message'][:100]}[/]")
        still_on_code = [key for key, h in held_now.items()
                         if h["reason"] == "gl_unmapped" and plan["held_code"] in h["waits_on"]]
        c.check(f"the invoice held on GL {plan['held_code']} was released and written as a bill",
                ("invoices", spotlight) in written and ("invoices", spotlight) not in held_now and not still_on_code,
                f"invoice {spotlight} written: {('invoices', spotlight) in written}; "
                f"{len(still_on_code)} records still wait on GL {plan['held_code']}")
        self.quickbooks_shows_the_changes(r2, plan)
        self.no_duplicates("after the second sync")
        return r2

    def quickbooks_shows_the_changes(self, r2: RunReport, plan: dict) -> None:
        """Read the changed objects back from the QBO sandbox: what the second sync's audit rows point at."""
        qbo_id = {(r["entity"], r["source_id"]): r["qbo_id"] for r in r2.records if r["outcome"] in WRITTEN}
        state = {entity: {o["Id"]: o for o in self.sb.qbo.state(entity)}
                 for entity in ("Vendor", "PurchaseOrder", "Bill")}
        supplier_id, new_name = plan["renamed"]
        vendor = state["Vendor"].get(qbo_id.get(("suppliers", supplier_id), ""), {})
        po = state["PurchaseOrder"].get(qbo_id.get(("purchase_orders", plan["cancelled"]), ""), {})
        new_pos = [state["PurchaseOrder"].get(qbo_id.get(("purchase_orders", i), "")) for i in plan["new_pos"]]
        bills = [state["Bill"].get(qbo_id.get(("invoices", i), "")) for i in plan["approved"]]
        self.say(f"    in QuickBooks now: vendor {vendor.get('Id')} {vendor.get('DisplayName')!r}; "
                 f"PO {po.get('DocNumber')} {po.get('POStatus')}; "
                 f"new POs {[p.get('DocNumber') for p in new_pos if p]}; "
                 f"bills {[b.get('DocNumber') for b in bills if b]}")
        self.checks.check(
            "QuickBooks shows the changes: vendor renamed, cancelled PO closed, new POs and approved bills there",
            vendor.get("DisplayName") == new_name and po.get("POStatus") == "Closed" and all(new_pos) and all(bills),
            f"vendor {vendor.get('DisplayName')!r}, PO {po.get('POStatus')}, "
            f"{sum(1 for p in new_pos if p)} of {len(new_pos)} new POs, "
            f"{sum(1 for b in bills if b)} of {len(bills)} bills")

    # ------------------------------------------------------------------ 6b. month-end reconciliation
    def reconcile(self) -> None:
        """The month's reconciliation after both syncs, with one bill marked paid in QuickBooks meanwhile."""
        self.chapter("6b · Month-end reconciliation: JAGGAER against QuickBooks")
        month = _busiest_month(load_dataset(self.options.dataset, 42).jaggaer["invoices"])
        paid = self._mark_a_bill_paid(month)
        found = self.api(f"ask for the reconciliation of {month}", "POST", "/reconciliations", {"month": month})
        if found["status"] in ("queued", "running"):
            found = self.api("read the reconciliation", "GET", f"/reconciliations/{found['id']}")
        self.checks.require("the reconciliation succeeded", found["status"] == "succeeded",
                            (found.get("error") or {}).get("message", found["status"]))
        summary = found["summary"]
        table = Table(title=f"reconciliation of {month}: {summary['findings']} finding(s)", title_justify="left")
        table.add_column("kind")
        table.add_column("findings", justify="right")
        for kind, n in summary["kinds"].items():
            table.add_row(kind, str(n))
        self.console.print(table)
        findings = self.portal.all_pages(f"{self.t}/reconciliations/{found['id']}/findings", page_size=500)
        found_paid = [f for f in findings if f["kind"] == "bill_paid" and f["jaggaer_id"] == paid]
        self.checks.check("the bill marked paid in QuickBooks is a finding, with the step that resolves it",
                          bool(paid) and len(found_paid) == 1 and bool(found_paid[0]["action_detail"]),
                          f"invoice {paid}: {found_paid[0]['action_detail'][:80] if found_paid else 'not found'}")
        broken = [f for f in findings if f["kind"] in ("bill_differs", "bill_missing", "duplicate_bill",
                                                       "duplicate_vendor", "vendor_missing", "po_missing")]
        self.checks.check("what the syncs wrote agrees with QuickBooks (no bill, vendor or PO differs)", not broken,
                          f"{len(broken)} disagreements" + (f": {[(f['kind'], f['jaggaer_id']) for f in broken[:3]]}"
                                                           if broken else ""))
        self.say(f"    requests: QuickBooks {summary['requests']['qbo']}, JAGGAER pages "
                 f"{summary['requests']['jaggaer_pages']} (read in bulk, not per record)")

    def _mark_a_bill_paid(self, month: str) -> str:
        """One approved (not yet paid) invoice of the month: its bill is paid in QuickBooks, as a clerk would."""
        from core.tenancy import tenant_scope
        from sync.models import BillLink
        from tenants.models import Tenant

        invoices = {i["invoiceId"]: i for i in load_dataset(self.options.dataset, 42).jaggaer["invoices"]}
        tenant = Tenant.objects.get(pk=self.tenant["id"])
        with tenant_scope(tenant):
            links = list(BillLink.objects.for_tenant(tenant).filter(qbo_entity="Bill").order_by("jaggaer_invoice_id"))
        for link in links:
            source = invoices.get(link.jaggaer_invoice_id) or {}
            if source.get("workflowStatus") == "Approved" and str(source.get("invoiceDate", "")).startswith(month):
                self.sb.qbo.mark_bill_paid(link.qbo_id)
                self.say(f"    in QuickBooks, bill {link.qbo_id} (invoice {link.jaggaer_invoice_id}) is marked paid")
                return link.jaggaer_invoice_id
        return ""

    # ------------------------------------------------------------------ 7. what next
    def what_next(self) -> None:
        self.chapter("7 · Where to look next")
        self.console.print(Panel.fit(
            "[bold]make serve[/]  the API, a Celery worker and beat on the embedded defaults, with both sandboxes\n"
            "  admin        http://127.0.0.1:8000/admin/   (first: .venv/bin/python manage.py createsuperuser)\n"
            "  API docs     http://127.0.0.1:8000/api/docs/\n"
            "  sandboxes    QBO http://127.0.0.1:8101, JAGGAER http://127.0.0.1:8102  (`manage.py sandbox`)\n"
            "One by one, each in its own terminal, with the variables `make serve` exports (Makefile: "
            "CELERY_BROKER_URL=filesystem://, QBO_* at the sandbox):\n"
            "  .venv/bin/python manage.py runserver 127.0.0.1:8000\n"
            "  bin/ml-connector worker --concurrency 1   (every queue: sync, bulk, default; no Redis needed)\n"
            "  bin/ml-connector beat\n"
            "  .venv/bin/python manage.py sync <tenant-slug>        one sync now, with progress bars\n"
            f"This run's database stays in {self.database}: "
            f"DATABASE_URL=sqlite:///{self.database} .venv/bin/python manage.py shell\n"
            "Read: README.md, docs/*.md; this demo is demo/scenario.py.",
            title="next", border_style="cyan"))


def run_demo(options: Options, console: Console) -> Checks:
    """The whole story; returns the checks (the caller turns failures into the exit status)."""
    demo = Demo(options, console)
    environment.quiet_logging()
    console.rule("[bold]ml-connector demo[/]: JAGGAER → QuickBooks Online, end to end")
    try:
        with contextlib.ExitStack() as stack:
            demo.setup(stack)
            demo.onboard()
            held_code = demo.align()
            fit = demo.fit_report()
            r1 = demo.first_sync()
            demo.fit_was_exact(fit, r1)
            plan = demo.change_things(r1, held_code)
            demo.second_sync(plan)
            demo.reconcile()
            demo.what_next()
    except DemoFailed as e:
        if not any(r.name == e.check and not r.ok for r in demo.checks.results):
            demo.checks.check(e.check, False, e.detail)
    except Exception as e:  # a bug or a broken environment: show where, and fail the demo by name
        console.print_exception(max_frames=8)
        demo.checks.check("the demo ran to its end", False, f"{type(e).__name__}: {e}")
    elapsed = time.monotonic() - demo.started
    if options.time_budget:
        demo.checks.check(f"the demo took under {options.time_budget:g} s", elapsed < options.time_budget,
                          f"{elapsed:.1f} s")
    console.print()
    passed = len(demo.checks.results) - len(demo.checks.failed)
    style = "green" if not demo.checks.failed else "bold red"
    console.print(f"[{style}]{passed} of {len(demo.checks.results)} checks passed[/] in {elapsed:.1f} s "
                  f"(dataset {options.dataset})", highlight=False)
    return demo.checks


# ---------------------------------------------------------------------- small helpers
def _busiest_month(invoices: list[dict]) -> str:
    """The month (YYYY-MM) with the most approved or paid invoices."""
    months = Counter(str(i.get("invoiceDate", ""))[:7] for i in invoices
                     if i.get("workflowStatus") in ("Approved", "Paid") and str(i.get("invoiceDate", ""))[4:5] == "-")
    return months.most_common(1)[0][0]



def _moved_table(r2: RunReport, changed: set, released: set, held_again: dict) -> Table:
    table = Table(title="What the second sync wrote, against what changed", title_justify="left")
    for column in ("entity", "changed in JAGGAER", "released (GL mapped)", "written", "= changes", "= released",
                   "held again (another reason)"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    written = r2.written()
    for entity in ENTITIES:
        def mine(keys, entity=entity):
            return {k for k in keys if k[0] == entity}
        table.add_row(entity, str(len(mine(changed))), str(len(mine(released))), str(len(mine(written))),
                      str(len(mine(written & changed))), str(len(mine(written & released))),
                      str(len(mine(set(held_again)))))
    return table


def _error(run: dict) -> str:
    error = run.get("error") or {}
    return f"{error.get('system') or ''} {error.get('code') or ''} {error.get('message') or ''}".strip()


def _mapping_detail(mapping: dict) -> str:
    return (f"{mapping['state']}, QuickBooks {mapping.get('qbo_name')!r} (id {mapping.get('qbo_id')}), "
            f"set by a {mapping['source']}")


def _ping_detail(ping: dict) -> str:
    problem = ping.get("problem") or {}
    steps = ", ".join(f"{s.get('step')} {'ok' if s.get('ok') else 'failed'}" for s in ping.get("steps") or [])
    return f"{steps}" + (f"; {problem.get('code')}: {problem.get('message')}" if problem else "")


def _pick_account(accounts: list[dict], preferred: tuple[str, ...]) -> dict:
    by_name = {a["name"]: a for a in accounts}
    for name in preferred:
        if name in by_name:
            return by_name[name]
    return sorted(accounts, key=lambda a: (a["number"] or "~", a["name"]))[0]


def _fresh(candidate: str, taken: set[str]) -> str:
    value, n = candidate, 1
    while value in taken:
        n += 1
        value = f"{candidate}-{n}"
    taken.add(value)
    return value


def _postable(invoice: dict, po_numbers: set[str], suppliers: set[str], mapped: dict[str, set[str]]) -> bool:
    """An invoice the pipeline can post once approved: known supplier and POs, mapped codes, one department."""
    lines = invoice.get("lineList") or []
    if not lines or (invoice.get("currency") or "USD") != "USD" or invoice.get("invoiceType") != "Invoice":
        return False
    if (invoice.get("supplier") or {}).get("companyId") not in suppliers:
        return False
    departments = set()
    for line in lines:
        segments = line.get("accountingSegments") or {}
        if line.get("poNumber") not in po_numbers or segments.get("Account") not in mapped["gl_account"]:
            return False
        departments.add(segments.get("DepartmentCode"))
    return len(departments) == 1 and departments <= mapped["department"]


def _single_department(record: dict) -> bool:
    return len({(line.get("accountingSegments") or {}).get("DepartmentCode")
                for line in record.get("lineList") or []}) == 1


def _qbo_kinds(entries: list[dict]) -> dict[str, int]:
    out = {"total": len(entries), "query": 0, "batch": 0, "other": 0, "429": 0, "401": 0, "token": 0}
    for e in entries:
        path = e["path"]
        if path.endswith("/query"):
            out["query"] += 1
        elif path.endswith("/batch"):
            out["batch"] += 1
        else:
            out["other"] += 1
        if e["status"] == 429:
            out["429"] += 1
        if e["status"] == 401:
            out["401"] += 1
        if path.endswith("/tokens/bearer"):
            out["token"] += 1
    return out


def _token_calls(server) -> int:
    return sum(1 for e in server.log.entries() if e["path"].endswith("/tokens/bearer") and e["status"] == 200)
