"""OpenAPI documentation of partner-key auth and of the one error format."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields", "request_id"],
            "additionalProperties": True,
            "properties": {
                "code": {"type": "string", "description": "Machine-readable error code (see the examples of each "
                                                          "status)."},
                "message": {"type": "string", "description": "What to fix, for a person."},
                "request_id": {"type": "string", "description": "The X-Request-Id of the request: quote it to "
                                                                "support."},
                "fields": {
                    "type": "object",
                    "description": "Problems per request field (empty when not about fields).",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

def _example(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {},
                      "request_id": "4f1c2b7e9a5d4c3e8b6a1f0e2d9c7b5a", **extra}}


# Per status: what it means, and real answers of this API (their codes are what clients branch on).
ERROR_RESPONSES = {
    "400": ("The request is not valid: see error.code, error.message and error.fields.", {
        "validation_error": _example("validation_error", "Fix 'time_zone': Unknown time zone 'Mars/Olympus'.",
                                     {"time_zone": ["Unknown time zone 'Mars/Olympus'."]}),
        "unknown_fields": _example("unknown_fields", "Unknown field in the request body: ful. Remove it (see "
                                   "error.fields for the accepted ones).",
                                   {"ful": ["Unknown field; accepted fields: entities, full."]}),
    }),
    "401": ("No API key, or a key that is malformed, unknown, revoked or expired.", {
        "not_authenticated": _example("not_authenticated", "Send a partner API key in the header 'Authorization: "
                                      "Api-Key <key>'."),
        "invalid_api_key": _example("invalid_api_key", "This API key is not valid. Check that it was copied whole, "
                                    "or ask for a new one."),
        "api_key_revoked": _example("api_key_revoked", "This API key has been revoked. Ask your ml-connector "
                                    "contact for a new one."),
    }),
    "403": ("The key is valid but may not do this.", {
        "permission_denied": _example("permission_denied", "This partner account is disabled."),
    }),
    "404": ("No such object for this partner (other partners' tenants are never visible).", {
        "not_found": _example("not_found", "Nothing exists at this address for your API key."),
    }),
    "429": ("Too many requests with this key (or failed authentications from this address): wait Retry-After "
            "seconds.", {
        "throttled": _example("throttled", "Too many requests with this API key; retry after 12 seconds."),
    }),
}
CONFLICT_EXAMPLES = {
    "idempotency_request_in_progress": _example(
        "idempotency_request_in_progress", "A request with this Idempotency-Key is still being processed; retry in "
        "a moment to get its answer."),
}
SYNC_CONFLICT_EXAMPLES = {
    "sync_already_running": _example(
        "sync_already_running", "A sync of this tenant is already queued or running; wait for it to finish or "
        "cancel it.", run={"id": "1d6f0c52-3f7e-4a53-9a43-52f1c0b2d8e1", "status": "running", "trigger": "schedule",
                           "created_at": "2026-06-01T02:00:04.512331Z"}),
    "connection_not_usable": _example(
        "connection_not_usable", "QuickBooks Online needs to be re-authorized by the customer: send them through "
        "consent again (POST /api/v1/tenants/{tenant_id}/connections/qbo/authorize).",
        connection={"system": "qbo", "status": "needs_reauthorization"},
        connections=[{"system": "qbo", "status": "needs_reauthorization"}]),
}
IDEMPOTENCY_422 = ("The Idempotency-Key was used in the last 24 hours for another request (another method, path or "
                   "body).", {"idempotency_key_reused": _example(
                       "idempotency_key_reused", "This Idempotency-Key was used for another request (POST "
                       "/api/v1/tenants with another body) in the last 24 hours; use a new key for a new request.")})

RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"description": "Requests allowed in the current window for this key (the tightest budget "
                                       "of this operation); on a 401, failed authentications allowed from the "
                                       "calling address.", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window frees a request.", "schema": {"type": "integer"}},
}
REQUEST_ID_HEADER = {"X-Request-Id": {
    "description": "The request's id: yours when you sent a plain one (letters, digits, `._:-`, at most 128), else "
                   "ours. Also in every error body (`error.request_id`) and on the audit rows of the request.",
    "schema": {"type": "string"}}}
REQUEST_ID_PARAMETER = {
    "name": "X-Request-Id", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128},
    "description": "Your id for this request (echoed back, quoted in errors and stored on the audit rows); one is "
                   "made when absent."}
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "Makes a retry safe: the same key with the same request within 24 hours answers the first "
                   "successful answer again (with `Idempotent-Replayed: true`) without doing anything twice; with "
                   "another request it is a 422, while the first still runs a 409. Keys are per partner; use a "
                   "UUID per intended change."}
REPLAYED_HEADER = {"Idempotent-Replayed": {
    "description": "`true` when this is the stored answer of an earlier request with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]}}}


class PartnerAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.auth.PartnerAPIKeyAuthentication"
    name = "PartnerApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A partner API key, sent as `Authorization: Api-Key <key>`.",
        }


def _error_response(description: str, examples: dict) -> dict:
    return {"description": description, "headers": dict(REQUEST_ID_HEADER),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"},
                                             "examples": {code: {"value": value} for code, value in examples.items()}}}}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the shared error body with real examples per status, and the headers every
    operation takes or answers (X-Request-Id, RateLimit-*, Idempotency-Key on POST and PUT)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            parameters = operation.setdefault("parameters", [])
            parameters.append(dict(REQUEST_ID_PARAMETER))
            writes = method in ("post", "put")
            if writes:
                parameters.append(dict(IDEMPOTENCY_PARAMETER))
            for code, (description, examples) in ERROR_RESPONSES.items():
                responses[code] = _error_response(description, examples)
            conflicts = dict(CONFLICT_EXAMPLES) if writes else {}
            if path.endswith("/syncs") or path.endswith("/replay") or path.endswith("/replay-failed"):
                conflicts.update(SYNC_CONFLICT_EXAMPLES)
            if "409" in responses or conflicts:
                description = responses.get("409", {}).get("description") or "The current state forbids this now."
                if conflicts:
                    responses["409"] = _error_response(description, conflicts)
                else:
                    responses["409"] = _error_response(description, {"conflict": _example(
                        "conflict", "The current state forbids this now.")})
            if writes:
                responses["422"] = _error_response(*IDEMPOTENCY_422)
            for code, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.update(REQUEST_ID_HEADER)
                headers.update(RATE_LIMIT_HEADERS)
                if code == "429":
                    headers["Retry-After"] = {"description": "Seconds to wait.", "schema": {"type": "integer"}}
                if writes and code.startswith("2"):
                    headers.update(REPLAYED_HEADER)
    return result
