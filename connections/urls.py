"""Routes of the connections app, included at the root: the partner API and Intuit's redirect URI."""

from django.urls import path

from connections import api, connect_pages

PREFIX = "api/v1/tenants/<uuid:tenant_id>/connections"

urlpatterns = [
    path(PREFIX, api.ConnectionsApi.as_view(), name="connections"),
    path(f"{PREFIX}/jaggaer", api.JaggaerConnectionApi.as_view(), name="connections-jaggaer"),
    path(f"{PREFIX}/jaggaer/ping", api.ConnectionPingApi.as_view(system="jaggaer"), name="connections-jaggaer-ping"),
    path(f"{PREFIX}/qbo", api.QboConnectionApi.as_view(), name="connections-qbo"),
    path(f"{PREFIX}/qbo/authorize", api.QboAuthorizeApi.as_view(), name="connections-qbo-authorize"),
    path(f"{PREFIX}/qbo/disconnect", api.QboDisconnectApi.as_view(), name="connections-qbo-disconnect"),
    path(f"{PREFIX}/qbo/ping", api.ConnectionPingApi.as_view(system="qbo"), name="connections-qbo-ping"),
    path(f"{PREFIX}/connect-links", api.ConnectLinksApi.as_view(), name="connections-connect-links"),
    path("oauth/qbo/callback", api.qbo_oauth_callback, name="qbo-oauth-callback"),
    path("connect/finished/<uuid:link_id>", connect_pages.connect_finished, name="connect-link-finished"),
    path("connect/<str:token>", connect_pages.connect_page, name="connect-link"),
]
