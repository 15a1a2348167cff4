"""Connection endpoints under /api/v1/tenants/{tenant_id}/connections, and Intuit's OAuth callback."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from connections import connect_links, health, jaggaer, qbo_authorization, selectors
from connections.serializers import (
    ConnectionsOverviewSerializer,
    ConnectLinkCreateSerializer,
    ConnectLinkSerializer,
    JaggaerConnectionSerializer,
    JaggaerConnectionWriteSerializer,
    PingAnswerSerializer,
    QboAuthorizeAnswerSerializer,
    QboAuthorizeSerializer,
    QboConnectionSerializer,
    QboDisconnectAnswerSerializer,
)
from core.actor import Actor, actor_from_request
from core.api import no_body
from core.tenancy import unscoped
from core.throttles import PartnerKeyThrottle, PingThrottle
from tenants.permissions import TenantScopedMixin

TAGS = ["connections"]
# The Intuit redirect carries no credentials of ours: the system acts on the customer's consent.
INTUIT_REDIRECT = Actor("system", "QuickBooks consent (Intuit redirect)")


class ConnectionsApi(TenantScopedMixin, APIView):
    @extend_schema(description="The JAGGAER and QuickBooks connections: status (not_configured, connected, "
                               "needs_reauthorization, error), why, the last success, error and ping. Never a secret "
                               "or token.",
                   summary="Show both connections of a tenant", tags=TAGS, responses=ConnectionsOverviewSerializer)
    def get(self, request, tenant_id):
        return Response({
            "jaggaer": JaggaerConnectionSerializer(selectors.jaggaer_connection_get(tenant=self.tenant)).data,
            "qbo": QboConnectionSerializer(selectors.qbo_connection_get(tenant=self.tenant)).data,
        })


class JaggaerConnectionApi(TenantScopedMixin, APIView):
    @extend_schema(description="Its API base URL, the last four characters of the client id, whether a secret is "
                               "stored, its dialect overrides and health. Never the secret.",
                   summary="Show the JAGGAER connection (never its secret)", tags=TAGS,
                   responses=JaggaerConnectionSerializer)
    def get(self, request, tenant_id):
        return Response(JaggaerConnectionSerializer(selectors.jaggaer_connection_get(tenant=self.tenant)).data)

    @extend_schema(description="Stores the tenant's JAGGAER API base URL, client id and secret (write-only) and "
                               "dialect overrides; the host must be public and HTTPS. Check it with POST "
                               "…/connections/jaggaer/ping.",
                   summary="Set the JAGGAER connection (API base URL, client credentials, dialect)", tags=TAGS,
                   request=JaggaerConnectionWriteSerializer, responses=JaggaerConnectionSerializer)
    def put(self, request, tenant_id):
        return self._write(request, partial=False)

    @extend_schema(description="Changes only the fields you send; omit `client_secret` to keep the stored one (a new "
                               "host requires the secret again).",
                   summary="Change some JAGGAER connection settings", tags=TAGS,
                   request=JaggaerConnectionWriteSerializer, responses=JaggaerConnectionSerializer)
    def patch(self, request, tenant_id):
        return self._write(request, partial=True)

    @extend_schema(description="Clears the stored client id, secret and token; syncs stop needing JAGGAER until it is"
                               " set again. Takes no body. Audited.",
                   summary="Forget the JAGGAER credentials", tags=TAGS, request=None,
                   responses=JaggaerConnectionSerializer)
    @no_body
    def delete(self, request, tenant_id):
        connection = jaggaer.jaggaer_connection_clear(tenant=self.tenant, actor=actor_from_request(request))
        return Response(JaggaerConnectionSerializer(connection).data)

    def _write(self, request, *, partial: bool) -> Response:
        current = selectors.jaggaer_connection_get(tenant=self.tenant)
        serializer = JaggaerConnectionWriteSerializer(data=request.data, partial=partial,
                                                      secret_is_set=bool(current.client_secret))
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if not partial:
            changes.setdefault("dialect", {})
        connection = jaggaer.jaggaer_connection_configure(tenant=self.tenant, actor=actor_from_request(request),
                                                          **changes)
        return Response(JaggaerConnectionSerializer(connection).data)


class QboConnectionApi(TenantScopedMixin, APIView):
    @extend_schema(description="The connected company (realm id), when it was connected and its token lifetimes and "
                               "health. Never a token.",
                   summary="Show the QuickBooks connection (never its tokens)", tags=TAGS,
                   responses=QboConnectionSerializer)
    def get(self, request, tenant_id):
        return Response(QboConnectionSerializer(selectors.qbo_connection_get(tenant=self.tenant)).data)

    @extend_schema(description="Revokes the tokens at Intuit and forgets them; the tenant must go through consent "
                               "again to sync. Takes no body. Audited.",
                   summary="Disconnect QuickBooks: revoke the tokens at Intuit and forget them", tags=TAGS,
                   request=None, responses=QboDisconnectAnswerSerializer)
    @no_body
    def delete(self, request, tenant_id):
        return _disconnect(self.tenant, request)


class QboDisconnectApi(TenantScopedMixin, APIView):
    @extend_schema(description="Same as DELETE …/connections/qbo, for clients that cannot send DELETE. Takes no body.",
                   summary="Disconnect QuickBooks (same as DELETE .../connections/qbo)", tags=TAGS, request=None,
                   responses=QboDisconnectAnswerSerializer)
    @no_body
    def post(self, request, tenant_id):
        return _disconnect(self.tenant, request)


def _disconnect(tenant, request) -> Response:
    answer = qbo_authorization.qbo_connection_disconnect(tenant=tenant, actor=actor_from_request(request))
    answer["connection"] = QboConnectionSerializer(selectors.qbo_connection_get(tenant=tenant)).data
    return Response(answer)


class QboAuthorizeApi(TenantScopedMixin, APIView):
    @extend_schema(description="Answers the Intuit consent URL to send your customer's browser to. After consent "
                               "Intuit returns to our callback, which redirects to your `return_url` with `status` "
                               "(connected, denied, error), `tenant_id` and, unless connected, `code`.",
                   summary="Start connecting QuickBooks: the Intuit URL to send the customer to", tags=TAGS,
                   request=QboAuthorizeSerializer, responses={201: QboAuthorizeAnswerSerializer})
    def post(self, request, tenant_id):
        serializer = QboAuthorizeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        url = qbo_authorization.qbo_authorization_start(tenant=self.tenant, actor=actor_from_request(request),
                                                        return_url=serializer.validated_data.get("return_url"))
        return Response({"authorization_url": url, "expires_in": settings.QBO_STATE_MAX_AGE},
                        status=status.HTTP_201_CREATED)


class ConnectLinksApi(TenantScopedMixin, APIView):
    # The token is shown once, in this answer; only its hash is stored.
    @extend_schema(
        summary="Make a connect link for the customer's QuickBooks admin",
        description=("A signed link that works once and expires (72 hours unless `expires_in_hours` says "
                     "otherwise). Its page shows which tenant is being connected, optionally asks for the "
                     "JAGGAER credentials, starts Intuit's consent and ends on a page that says what happened, "
                     "with a button back to `return_url` when you give one. Send it to the customer by e-mail "
                     "or show it in your portal; the customer needs no account with us."),
        tags=TAGS, request=ConnectLinkCreateSerializer, responses={201: ConnectLinkSerializer})
    def post(self, request, tenant_id):
        serializer = ConnectLinkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        link, token = connect_links.connect_link_create(
            tenant=self.tenant, actor=actor_from_request(request), return_url=data.get("return_url", ""),
            collect_jaggaer=data["collect_jaggaer"], hours=data["expires_in_hours"])
        url = request.build_absolute_uri(reverse("connect-link", args=[token]))
        return Response(ConnectLinkSerializer({"id": link.pk, "url": url, "expires_at": link.expires_at,
                                               "collect_jaggaer": link.collect_jaggaer}).data,
                        status=status.HTTP_201_CREATED)


class ConnectionPingApi(TenantScopedMixin, APIView):
    system = ""
    throttle_classes = [PartnerKeyThrottle, PingThrottle]

    @extend_schema(description="JAGGAER: gets a token and reads one row. QuickBooks: reads CompanyInfo (refreshing "
                               "the token when due). Answers each step, and when one fails the problem and what the "
                               "customer should fix; the connection's status follows. Takes no body.",
                   summary="Test a connection with the lightest real call; says what to fix", tags=TAGS,
                   request=None, responses=PingAnswerSerializer)
    @no_body
    def post(self, request, tenant_id):
        return Response(health.connection_ping(tenant=self.tenant, system=self.system,
                                               actor=actor_from_request(request)))


# ============================================================================ Intuit's redirect

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style>
</head><body><h1>{title}</h1><p>{message}</p><p><small>{detail}</small></p></body></html>"""


@never_cache
@require_GET
def qbo_oauth_callback(request: HttpRequest) -> HttpResponse:
    """The app's one redirect URI: Intuit sends the customer's browser here after consent."""
    params = {key: request.GET.get(key, "") for key in ("state", "code", "realmId", "error")}
    with unscoped("the callback learns its tenant from the signed state"):
        outcome = qbo_authorization.qbo_authorization_complete(params=params, actor=INTUIT_REDIRECT)
    # The result in one word (connected, denied: the customer declined, error: see code) and the tenant it is for.
    result = "connected" if outcome.ok else "denied" if outcome.reason == "access_denied" else "error"
    tenant_id = str(outcome.tenant_id) if outcome.tenant_id else None
    if outcome.return_url:
        query = {"status": result}
        if tenant_id:
            query["tenant_id"] = tenant_id
        if not outcome.ok:
            query["code"] = outcome.reason
        return HttpResponseRedirect(qbo_authorization.url_with_query(outcome.return_url, **query))
    code = 200 if outcome.ok else 400
    body = {"status": result, "reason": outcome.reason, "message": outcome.message}
    if tenant_id:
        body["tenant_id"] = tenant_id
    if outcome.ok:
        body["realm_id"] = outcome.realm_id
    if "text/html" in request.headers.get("Accept", ""):
        title = "QuickBooks connected" if outcome.ok else "QuickBooks was not connected"
        detail = f"Reference: {outcome.reason}"
        html = format_html(_PAGE, title=title, message=outcome.message, detail=detail)
        return HttpResponse(html, status=code, content_type="text/html; charset=utf-8")
    return JsonResponse(body, status=code)
