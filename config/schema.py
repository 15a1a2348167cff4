"""OpenAPI documentation of partner-key auth and of the one error format."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {
                    "type": "string", "description": "Machine-readable error code.", "example": "validation_error",
                },
                "message": {"type": "string", "description": "What to fix, for a person."},
                "fields": {
                    "type": "object",
                    "description": "Problems per request field (empty when not about fields).",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

ERROR_RESPONSES = {
    "400": "The request is not valid: see error.message and error.fields.",
    "401": "No API key, or a key that is malformed, unknown, revoked or expired.",
    "403": "The key is valid but may not do this.",
    "404": "No such object for this partner (other partners' tenants are never visible).",
}


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


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: every operation documents the shared error body."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, description in ERROR_RESPONSES.items():
                operation["responses"].setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
