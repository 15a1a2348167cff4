"""Connect links end to end against the QBO sandbox: made by the partner API or support, opened by the customer's
QuickBooks admin, through Intuit's consent to the finish page; expired, reused and forged links refused."""

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from audit.models import Action
from connections.models import ConnectionStatus, ConnectLink, JaggaerConnection, QboConnection
from tests.connections.test_oauth_qbo_flow import consent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("secret_guard")]

RETURN_URL = "https://portal.example/tenants/acme/connections"


def make_link(alice, tenant, **body):
    answer = alice.client.post(f"/api/v1/tenants/{tenant.id}/connections/connect-links", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_the_customer_connects_quickbooks_through_a_link_once(alice, tenant, anon_client, qbo_app):
    made = make_link(alice, tenant, return_url=RETURN_URL)
    assert set(made) == {"id", "url", "expires_at", "collect_jaggaer"} and made["expires_at"].endswith("Z")
    page = anon_client.get(path_of(made["url"]))
    assert page.status_code == 200 and tenant.name in page.content.decode()
    assert 'name="client_secret"' not in page.content.decode()
    start = anon_client.post(path_of(made["url"]))
    assert start.status_code == 302 and start["Location"].startswith(qbo_app.url + "/connect/oauth2?")
    finish = anon_client.get(consent(start["Location"]))
    assert finish.status_code == 302
    assert finish["Location"].startswith(f"http://testserver/connect/finished/{made['id']}?")
    done = anon_client.get(path_of(finish["Location"]) + "?" + urlsplit(finish["Location"]).query)
    html = done.content.decode()
    assert done.status_code == 200 and "QuickBooks Online is connected." in html
    assert f'href="{RETURN_URL}?status=connected&amp;tenant_id={tenant.pk}"' in html
    assert QboConnection.objects.get(tenant=tenant).status == ConnectionStatus.CONNECTED
    # Single use: the same link is refused afterwards, by GET and by POST.
    again = anon_client.get(path_of(made["url"]))
    assert again.status_code == 410 and 'data-code="used"' in again.content.decode()
    assert anon_client.post(path_of(made["url"])).status_code == 410
    codes = list(Action.objects.filter(tenant=tenant).order_by("created_at").values_list("action", flat=True))
    assert codes[-4:] == ["connection.connect_link.create", "connection.connect_link.use",
                          "connection.qbo.authorize", "connection.qbo.connect"]


def test_an_expired_or_forged_link_is_refused(alice, tenant, anon_client, qbo_app):
    made = make_link(alice, tenant, expires_in_hours=1)
    ConnectLink.objects.filter(pk=made["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    for answer in (anon_client.get(path_of(made["url"])), anon_client.post(path_of(made["url"]))):
        assert answer.status_code == 410 and 'data-code="expired"' in answer.content.decode()
    forged = path_of(made["url"])[:-3] + "abc"
    assert anon_client.get(forged).status_code == 404
    assert anon_client.get("/connect/not-a-token").status_code == 404
    assert not QboConnection.objects.filter(tenant=tenant, status=ConnectionStatus.CONNECTED).exists()


def test_a_declined_consent_ends_on_a_page_that_says_so_and_where_to_go(alice, tenant, anon_client, qbo_app):
    made = make_link(alice, tenant, return_url=RETURN_URL)
    start = anon_client.post(path_of(made["url"]))
    callback = consent(start["Location"], realmId="999999999")   # the sandbox declines for this company
    finish = anon_client.get(callback)
    done = anon_client.get(path_of(finish["Location"]) + "?" + urlsplit(finish["Location"]).query)
    html = done.content.decode()
    assert done.status_code == 400 and "Access was declined in QuickBooks" in html
    assert f'href="{RETURN_URL}?status=denied&amp;tenant_id={tenant.pk}&amp;code=access_denied"' in html


def test_the_link_can_take_jaggaer_credentials_with_the_host_rule_and_never_echoes_the_secret(
        alice, tenant, anon_client, qbo_app, jaggaer_app, settings):
    made = make_link(alice, tenant, collect_jaggaer=True)
    url = path_of(made["url"])
    assert 'name="client_secret"' in anon_client.get(url).content.decode()
    secret = "jaggaer-secret-typed-by-the-customer"
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False     # as in production (the tests' sandboxes are on loopback)
    refused = anon_client.post(url, {"api_base_url": "https://127.0.0.2:8443", "client_id": "c1",
                                     "client_secret": secret})
    assert refused.status_code == 400 and secret not in refused.content.decode()
    assert "loopback" in refused.content.decode() or "address" in refused.content.decode()
    assert ConnectLink.objects.get(pk=made["id"]).used_at is None      # a refused host leaves the link usable
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = True
    start = anon_client.post(url, {"api_base_url": jaggaer_app.url, "client_id": "c1", "client_secret": secret})
    assert start.status_code == 302, start.content.decode()[:500]
    stored = JaggaerConnection.objects.get(tenant=tenant)
    assert stored.api_base_url == jaggaer_app.url and stored.client_secret == secret


def test_the_api_refuses_a_foreign_return_url_and_unknown_fields(alice, tenant, bob):
    base = f"/api/v1/tenants/{tenant.id}/connections/connect-links"
    answer = alice.client.post(base, {"return_url": "https://evil.example/x"}, format="json")
    assert answer.status_code == 400 and "return_url" in answer.json()["error"]["fields"]
    answer = alice.client.post(base, {"expires_in": 3}, format="json")
    assert answer.status_code == 400 and "expires_in" in answer.json()["error"]["fields"]
    assert bob.client.post(base, {}, format="json").status_code == 404
    assert not ConnectLink.objects.exists()


def test_support_makes_a_link_from_the_tenant_page(tenant, client, django_user_model):
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("setup_roles", verbosity=0)
    user = django_user_model.objects.create_user("ada", password="pw-ada-1234", is_staff=True)
    user.groups.add(Group.objects.get(name="Support admin"))
    client.force_login(user)
    page = f"/admin/tenants/tenant/{tenant.pk}/connect-link/"
    assert 'value="Make the link"' in client.get(page).content.decode() and not ConnectLink.objects.exists()
    html = client.post(page, {"hours": "24"}).content.decode()
    link = ConnectLink.objects.get(tenant=tenant)
    assert 'id="mlc-connect-url"' in html and "http://testserver/connect/" in html
    assert Action.objects.get(action="connection.connect_link.create").actor_label == "ada"
    assert link.expires_at > timezone.now() + dt.timedelta(hours=23)
    reader = django_user_model.objects.create_user("rita", password="pw-rita-1234", is_staff=True)
    reader.groups.add(Group.objects.get(name="Support (read-only)"))
    client.force_login(reader)
    assert client.post(page, {"hours": "24"}).status_code == 403
