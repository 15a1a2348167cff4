"""The hosted pages of a connect link (Django templates): the customer's QuickBooks admin opens the link, sees
which tenant is being connected, optionally gives the JAGGAER credentials, goes through Intuit's consent and
lands on a page that says what happened and where to go next."""

from __future__ import annotations

from django import forms
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from connections.connect_links import LinkRefused, connect_link_find, connect_link_use
from connections.models import ConnectLink
from connections.qbo_authorization import CALLBACK_MESSAGES, url_with_query
from core.exceptions import ApplicationError
from core.tenancy import unscoped


class JaggaerForm(forms.Form):
    api_base_url = forms.URLField(label="JAGGAER API address", max_length=500, assume_scheme="https")
    client_id = forms.CharField(label="Client id", max_length=200)
    # render_value=False: a secret typed here is never sent back to the browser, not even on an error.
    client_secret = forms.CharField(label="Client secret", max_length=500,
                                    widget=forms.PasswordInput(render_value=False))


def _refused(request, refusal: LinkRefused):
    return render(request, "connections/connect_refused.html", {"message": refusal.message, "code": refusal.code},
                  status=refusal.status_code)


@never_cache
@require_http_methods(["GET", "POST"])
def connect_page(request, token: str):
    with unscoped("a connect link names its tenant"):
        try:
            link = connect_link_find(token=token)
        except LinkRefused as refusal:
            return _refused(request, refusal)
        form = JaggaerForm(request.POST or None) if link.collect_jaggaer else None
        error = ""
        if request.method == "POST":
            finish = request.build_absolute_uri(reverse("connect-link-finished", args=[link.pk]))
            if form is None or form.is_valid():
                try:
                    url = connect_link_use(token=token, finish_url=finish,
                                           jaggaer=form.cleaned_data if form is not None else None)
                except LinkRefused as refusal:
                    return _refused(request, refusal)
                except ApplicationError as e:
                    error = e.message
                    for name, problems in (e.fields or {}).items():
                        if form is not None and name in form.fields:
                            form.add_error(name, problems)
                else:
                    return HttpResponseRedirect(url)
        return render(request, "connections/connect.html", {
            "link": link, "tenant": link.tenant, "partner": link.tenant.partner, "form": form, "error": error},
            status=400 if error or (form is not None and form.errors) else 200)


@never_cache
@require_GET
def connect_finished(request, link_id):
    with unscoped("the finish page of a connect link"):
        link = ConnectLink.objects.select_related("tenant", "tenant__partner").filter(pk=link_id).first()
    if link is None:
        return render(request, "connections/connect_refused.html",
                      {"message": "This page belongs to no connect link.", "code": "invalid"}, status=404)
    # Our callback's redirect: status (connected, denied, error) and, when it failed, the code saying why.
    ok = request.GET.get("status") == "connected"
    reason = "connected" if ok else request.GET.get("code") or "authorization_failed"
    if reason not in CALLBACK_MESSAGES:
        reason = "authorization_failed"
    message = CALLBACK_MESSAGES[reason]
    # The partner's return URL gets the same words as from the API's consent flow.
    query = {"status": "connected" if ok else "denied" if reason == "access_denied" else "error",
             "tenant_id": str(link.tenant_id)}
    if not ok:
        query["code"] = reason
    next_url = url_with_query(link.return_url, **query) if link.return_url else ""
    return render(request, "connections/connect_finished.html", {
        "ok": ok, "message": message, "reason": reason, "tenant": link.tenant, "partner": link.tenant.partner,
        "next_url": next_url}, status=200 if ok else 400)
