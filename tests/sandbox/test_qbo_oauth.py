"""QBO sandbox contract: Intuit's OAuth 2.0 (authorize, code exchange, refresh rotation, revoke)."""
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.qbo.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from sandbox.testing import fault_code

REDIRECT = "https://app.example/qbo/callback"
BASIC = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


def _authorize(server, **params):
    query = {"client_id": DEFAULT_CLIENT_ID, "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
             "redirect_uri": REDIRECT, "state": "st-123", **params}
    return requests.get(server.url + "/connect/oauth2", params=query, allow_redirects=False)


def _code(server, **params) -> str:
    resp = _authorize(server, **params)
    return parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]


def _token(server, form, auth=BASIC, headers=None):
    return requests.post(server.url + "/oauth2/v1/tokens/bearer", data=form, auth=auth,
                         headers={"Accept": "application/json", **(headers or {})})


def _exchange(server, code, **headers):
    return _token(server, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
                  headers=headers)


def _refresh(server, refresh_token):
    return _token(server, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def _api_ok(server, tokens) -> bool:
    realm = tokens.get("realm_id", "9130355000000001")
    resp = requests.get(f"{server.url}/v3/company/{realm}/companyinfo/{realm}", params={"minorversion": "75"},
                        headers={"Authorization": "Bearer " + tokens["access_token"], "Accept": "application/json"})
    return resp.status_code == 200


def test_authorize_consents_at_once_and_redirects_with_code_state_and_realm(qbo_sandbox):
    resp = _authorize(qbo_sandbox)
    assert resp.status_code == 302
    loc = urlsplit(resp.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT
    qs = parse_qs(loc.query)
    assert qs["state"] == ["st-123"] and qs["realmId"] == ["9130355000000001"] and qs["code"][0]


def test_authorize_refuses_an_unknown_client_without_redirecting(qbo_sandbox):
    resp = _authorize(qbo_sandbox, client_id="nobody")
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_authorize_reports_a_bad_scope_to_the_redirect_uri(qbo_sandbox):
    qs = parse_qs(urlsplit(_authorize(qbo_sandbox, scope="com.example.other").headers["Location"]).query)
    assert qs["error"] == ["invalid_scope"] and qs["state"] == ["st-123"] and "code" not in qs


def test_the_code_exchange_gives_intuits_token_answer(qbo_sandbox):
    resp = _exchange(qbo_sandbox, _code(qbo_sandbox))
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] > 86400 * 90
    assert "x_refresh_token_hard_expires_in" not in body
    assert _api_ok(qbo_sandbox, body)


def test_the_hard_expiry_is_added_when_asked_for(qbo_sandbox):
    resp = _exchange(qbo_sandbox, _code(qbo_sandbox), **{"x-include-refresh-token-hard-expires-in": "true"})
    assert 5 * 365 * 86400 - 10 <= resp.json()["x_refresh_token_hard_expires_in"] <= 5 * 365 * 86400


def test_a_code_works_once(qbo_sandbox):
    code = _code(qbo_sandbox)
    assert _exchange(qbo_sandbox, code).status_code == 200
    again = _exchange(qbo_sandbox, code)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}


def test_a_wrong_secret_or_no_basic_auth_is_invalid_client(qbo_sandbox):
    form = {"grant_type": "authorization_code", "code": _code(qbo_sandbox), "redirect_uri": REDIRECT}
    wrong = _token(qbo_sandbox, form, auth=(DEFAULT_CLIENT_ID, "nope"))
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    assert _token(qbo_sandbox, form, auth=None).status_code == 401
    assert _token(qbo_sandbox, form).status_code == 200                   # the code was not used up


def test_a_redirect_uri_that_differs_from_the_authorize_request_is_invalid_grant(qbo_sandbox):
    form = {"grant_type": "authorization_code", "code": _code(qbo_sandbox), "redirect_uri": REDIRECT + "/other"}
    assert _token(qbo_sandbox, form).json() == {"error": "invalid_grant"}


def test_refresh_rotates_the_refresh_token_and_the_old_one_is_invalid_grant(qbo_sandbox):
    first = _exchange(qbo_sandbox, _code(qbo_sandbox)).json()
    second = _refresh(qbo_sandbox, first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"] and new["access_token"] != first["access_token"]
    old = _refresh(qbo_sandbox, first["refresh_token"])
    assert old.status_code == 400 and old.json() == {"error": "invalid_grant"}
    assert _refresh(qbo_sandbox, new["refresh_token"]).status_code == 200


def test_a_grace_period_keeps_the_previous_refresh_token_alive_for_a_while(qbo_sandbox):
    qbo_sandbox.app.set_token_settings(refresh_grace=0.5)
    first = _exchange(qbo_sandbox, _code(qbo_sandbox)).json()
    assert _refresh(qbo_sandbox, first["refresh_token"]).status_code == 200
    assert _refresh(qbo_sandbox, first["refresh_token"]).status_code == 200       # within the grace
    time.sleep(0.6)
    assert _refresh(qbo_sandbox, first["refresh_token"]).json() == {"error": "invalid_grant"}


def test_the_access_token_lifetime_is_configurable(qbo_sandbox):
    qbo_sandbox.app.set_token_settings(access_lifetime=1)
    tokens = _exchange(qbo_sandbox, _code(qbo_sandbox)).json()
    assert tokens["expires_in"] == 1 and _api_ok(qbo_sandbox, tokens)
    time.sleep(1.05)
    assert not _api_ok(qbo_sandbox, tokens)
    assert _api_ok(qbo_sandbox, _refresh(qbo_sandbox, tokens["refresh_token"]).json())


def test_an_expired_refresh_token_is_invalid_grant(qbo_sandbox):
    tokens = qbo_sandbox.app.issue_tokens()
    qbo_sandbox.app.expire_tokens(refresh=True)
    assert _refresh(qbo_sandbox, tokens["refresh_token"]).json() == {"error": "invalid_grant"}


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_either_token_kills_both(qbo_sandbox, which):
    tokens = qbo_sandbox.app.issue_tokens()
    resp = requests.post(qbo_sandbox.url + "/v2/oauth2/tokens/revoke", json={"token": tokens[which]}, auth=BASIC,
                         headers={"Accept": "application/json"})
    assert resp.status_code == 200
    realm = tokens["realm_id"]
    api = requests.get(f"{qbo_sandbox.url}/v3/company/{realm}/companyinfo/{realm}", params={"minorversion": "75"},
                       headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert api.status_code == 401 and fault_code(api) == "3200"
    assert _refresh(qbo_sandbox, tokens["refresh_token"]).json() == {"error": "invalid_grant"}


def test_revoke_needs_client_auth_and_a_token(qbo_sandbox):
    url = qbo_sandbox.url + "/v2/oauth2/tokens/revoke"
    assert requests.post(url, json={"token": "x"}, auth=("a", "b")).status_code == 401
    assert requests.post(url, json={}, auth=BASIC).status_code == 400


def test_authorize_can_grant_another_realm(qbo_sandbox):
    realm = qbo_sandbox.app.create_realm()
    qs = parse_qs(urlsplit(_authorize(qbo_sandbox, realmId=realm.id).headers["Location"]).query)
    assert qs["realmId"] == [realm.id]
    tokens = _exchange(qbo_sandbox, qs["code"][0]).json()
    assert _api_ok(qbo_sandbox, {**tokens, "realm_id": realm.id})
    assert not _api_ok(qbo_sandbox, tokens)                       # not for the default realm
