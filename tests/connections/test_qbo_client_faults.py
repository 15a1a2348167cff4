"""QBO fault shapes the sandbox does not produce on its own: a Fault inside HTTP 200, XML without a
namespace, a batch answer missing an item, a non-JSON error page. Served over a real socket by a scripted
app on the sandboxes' stdlib server (mocking at the HTTP boundary only, where the sandbox cannot)."""

import pytest

from connections.clients.calls import record_calls
from connections.clients.http import HttpClient, StaticTokenProvider
from connections.clients.qbo import BatchItem, QboClient, fault_from_dict, fault_from_xml
from connections.exceptions import QboFault
from sandbox.common.http import Request, Response, SandboxServer

REALM = "4620816365000000001"
THROTTLE_XML = ('<IntuitResponse time="2026-11-25T10:00:00.000-08:00"><Fault type="SERVICE"><Error code="3001">'
                "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
                "<Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>")


class FaultyQbo:
    """Answers each path with a scripted body; `script[path]` is a list consumed one answer per call."""

    name = "faulty-qbo"

    def __init__(self):
        self.script: dict[str, list[Response]] = {}
        self.requests: list[Request] = []

    def handle(self, req: Request) -> Response:
        self.requests.append(req)
        answers = self.script.get(req.path.split(f"/v3/company/{REALM}", 1)[-1], [])
        if not answers:
            return Response.json(404, {"error": "unscripted"})
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def control(self, req, subpath):
        return Response.json(404, {})

    def throttle_response(self, retry_after):
        return Response.text(429, THROTTLE_XML, content_type="application/xml")

    def reset(self, dataset):
        self.script.clear()


@pytest.fixture
def server():
    srv = SandboxServer(FaultyQbo()).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    sleeps = []
    http = HttpClient("qbo", timeout=(2.0, 2.0), max_attempts=3, backoff_base=0.01, throttle_default_wait=0.5,
                      sleep=sleeps.append)
    qbo = QboClient(api_base=server.url, realm_id=REALM, tokens=StaticTokenProvider("tok", system="qbo"), http=http)
    qbo.sleeps = sleeps
    return qbo


def test_a_fault_inside_http_200_is_raised(server, client):
    server.app.script["/vendor"] = [Response.json(200, {"Fault": {"Error": [{
        "Message": "Duplicate Name Exists Error", "Detail": "The name supplied already exists.", "code": "6240",
        "element": ""}], "type": "ValidationFault"}, "time": "2026-11-25T10:00:00.000-08:00"},
        headers={"intuit_tid": "tid-200"})]
    with record_calls() as calls:
        with pytest.raises(QboFault) as err:
            client.create("Vendor", {"DisplayName": "Acme"})
    e = err.value
    assert (e.status, e.code, e.transient, e.intuit_tid) == (200, "6240", False, "tid-200")
    assert [(c.status, c.code, c.error) for c in calls] == [(200, "6240", "Duplicate Name Exists Error")]


def test_a_throttle_inside_http_200_is_retried(server, client):
    server.app.script["/companyinfo/" + REALM] = [
        Response.text(200, THROTTLE_XML, content_type="application/xml"),
        Response.json(200, {"CompanyInfo": {"CompanyName": "Acme"}}),
    ]
    assert client.company_info() == {"CompanyName": "Acme"}
    assert client.sleeps == [0.5]


def test_a_gateway_fault_with_lower_case_keys_is_parsed(server, client):
    server.app.script["/vendor/1"] = [Response.json(400, {"fault": {"error": [{
        "message": "message=InvalidRequest; errorCode=002000", "detail": "bad request", "code": "2000"}],
        "type": "SERVICE"}}, headers={"intuit_tid": "tid-gw"})]
    with pytest.raises(QboFault) as err:
        client.read("Vendor", "1")
    assert (err.value.code, err.value.detail, err.value.fault_type, err.value.intuit_tid) == (
        "2000", "bad request", "SERVICE", "tid-gw")


def test_an_html_error_page_becomes_a_fault_naming_the_status(server, client):
    server.app.script["/vendor/1"] = [Response.text(502, "<html><body>Bad Gateway</body></html>",
                                                    content_type="text/html")]
    with pytest.raises(QboFault) as err:
        client.read("Vendor", "1")
    assert (err.value.status, err.value.code, err.value.transient) == (502, None, True)
    assert str(err.value) == "QuickBooks Online answered HTTP 502"
    assert len(server.app.requests) == 3


def test_a_batch_answer_missing_an_item_reports_that_item_as_transient(server, client):
    server.app.script["/batch"] = [Response.json(200, {"BatchItemResponse": [
        {"bId": "1", "Vendor": {"Id": "55", "DisplayName": "A"}},
        {"bId": "3", "fault": {"error": [{"message": "Stale", "detail": "Stale Object Error : x", "code": "5010"}],
                               "type": "ValidationFault"}},
    ]}, headers={"intuit_tid": "tid-b"})]
    items = [BatchItem(str(n), "create", "Vendor", {"DisplayName": n}) for n in ("1", "2", "3")]
    one, two, three = client.batch(items)
    assert one.entity == {"Id": "55", "DisplayName": "A"}
    assert two.fault.transient and two.fault.intuit_tid == "tid-b"
    assert three.fault.code == "5010" and three.fault.is_stale_object and three.fault.intuit_tid == "tid-b"
    sent = server.app.requests[0].json()
    assert sent == {"BatchItemRequest": [{"bId": n, "operation": "create", "Vendor": {"DisplayName": n}}
                                         for n in ("1", "2", "3")]}


def test_a_success_that_is_not_json_is_a_fault(server, client):
    server.app.script["/vendor/1"] = [Response.text(200, "OK")]
    with pytest.raises(QboFault) as err:
        client.read("Vendor", "1")
    assert "not JSON" in str(err.value)


def test_xml_faults_parse_with_and_without_the_intuit_namespace():
    namespace = 'xmlns="http://schema.intuit.com/finance/v3" '
    namespaced = THROTTLE_XML.replace("<IntuitResponse ", "<IntuitResponse " + namespace)
    for text in (THROTTLE_XML, namespaced, THROTTLE_XML.encode()):
        fault = fault_from_xml(text, status=429, intuit_tid="t")
        assert (fault.code, fault.fault_type, fault.detail, fault.transient) == (
            "3001", "SERVICE", "The request limit was reached.", True)
    assert fault_from_xml("<IntuitResponse><Vendor/></IntuitResponse>") is None
    assert fault_from_xml("not xml at all") is None


def test_a_5010_about_a_closed_period_is_not_a_stale_object():
    closed = fault_from_dict({"Error": [{"Message": "Account Period Closed", "Detail": "The account period has "
                                         "closed and the books are locked", "code": "5010"}]}, status=400)
    assert closed.code == "5010" and not closed.is_stale_object and not closed.transient
