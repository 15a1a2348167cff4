"""What the support home shows above the model lists: tenants needing attention, today's runs, holds by reason."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from connections.models import ConnectionStatus
from core.tenancy import unscoped
from sync.holds.reasons import reason_label
from sync.models import Hold, SyncRun
from tenants.models import Tenant

ATTENTION_SHOWN = 25
RUNS_SHOWN = 25
GROWING_HOURS = 24
BAD = [ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.ERROR]


def _attention(tenant) -> list[str]:
    why = []
    qbo = getattr(tenant, "_qbo_status", None)
    if qbo == ConnectionStatus.NEEDS_REAUTHORIZATION:
        why.append("QuickBooks needs re-authorization")
    elif qbo == ConnectionStatus.ERROR:
        why.append("QuickBooks connection in error")
    if tenant._jaggaer_status in BAD:
        why.append("JAGGAER connection in error")
    if tenant._last_run_status == SyncRun.Status.FAILED:
        why.append("last run failed")
    if tenant._new_holds:
        why.append(f"{tenant._new_holds} record(s) held in the last {GROWING_HOURS} h")
    return why


@unscoped("the support home looks across every tenant")
def support_home(*, now: dt.datetime | None = None) -> dict:
    """Three queries, whatever the number of tenants, runs or holds."""
    now = now or timezone.now()
    runs = SyncRun.objects.filter(tenant=OuterRef("pk")).order_by("-created_at")
    new_holds = (Hold.objects.filter(tenant=OuterRef("pk"), first_held_at__gte=now - dt.timedelta(hours=GROWING_HOURS))
                 .order_by().values("tenant").annotate(n=Count("id")).values("n"))
    tenants = (Tenant.objects.filter(is_active=True).select_related("partner")
               .annotate(_qbo_status=Coalesce("qbo_connection__status", Value("")),
                         _jaggaer_status=Coalesce("jaggaer_connection__status", Value("")),
                         _last_run_status=Subquery(runs.values("status")[:1]),
                         _new_holds=Coalesce(Subquery(new_holds, output_field=IntegerField()), Value(0)))
               .filter(Q(_qbo_status__in=BAD) | Q(_jaggaer_status__in=BAD) | Q(_last_run_status=SyncRun.Status.FAILED)
                       | Q(_new_holds__gt=0))
               .order_by("-_new_holds", "name")[:ATTENTION_SHOWN])
    reauthorize = ConnectionStatus.NEEDS_REAUTHORIZATION
    attention = [{"tenant": t, "why": _attention(t), "reauthorize": t._qbo_status == reauthorize} for t in tenants]
    start = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = list(SyncRun.objects.filter(created_at__gte=start).select_related("tenant")
                 .order_by("-created_at")[:RUNS_SHOWN])
    by_reason = (Hold.objects.order_by().values("reason")
                 .annotate(n=Count("id"), t=Count("tenant", distinct=True)).order_by("-n", "reason"))
    holds = [{"reason": row["reason"], "label": reason_label(row["reason"]), "n": row["n"], "tenants": row["t"]}
             for row in by_reason]
    return {"attention": attention, "today_runs": today, "holds_by_reason": holds}
