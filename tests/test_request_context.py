"""The request id: taken from the caller or made, echoed, and bound for the request's code only."""

import threading

import pytest

from core import context


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_fresh_one_echoed(client):
    first = client.get("/healthz")
    second = client.get("/healthz")
    assert len(first["X-Request-Id"]) == 32
    assert first["X-Request-Id"] != second["X-Request-Id"]


@pytest.mark.django_db
def test_the_callers_plain_id_is_kept(client):
    answer = client.get("/healthz", HTTP_X_REQUEST_ID="portal-7f3a:42")
    assert answer["X-Request-Id"] == "portal-7f3a:42"


@pytest.mark.django_db
@pytest.mark.parametrize("sent", ["", "a b", "x" * 129, "<script>", "id\nwith-newline", "-leading-dash"])
def test_an_unusable_id_is_replaced(client, sent):
    answer = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert answer["X-Request-Id"] != sent
    assert len(answer["X-Request-Id"]) == 32


def test_bound_restores_the_previous_values_and_stays_in_its_thread():
    seen_in_thread = {}
    with context.bound(tenant="t1", run_id="r1"):
        with context.bound(run_id="r2", step="invoices"):
            assert context.current() == {"tenant": "t1", "run_id": "r2", "step": "invoices"}
            worker = threading.Thread(target=lambda: seen_in_thread.update(context.current()))
            worker.start()
            worker.join()
        assert context.current() == {"tenant": "t1", "run_id": "r1"}
    assert context.current() == {}
    assert seen_in_thread == {}


def test_bound_refuses_unknown_names():
    with pytest.raises(TypeError):
        with context.bound(customer="x"):
            pass
