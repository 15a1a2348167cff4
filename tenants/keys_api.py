"""A partner's own API keys: list, add (rotation), revoke. Partner-wide, not under a tenant."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actor import actor_from_request
from core.api import StrictFieldsMixin, no_body
from tenants import services
from tenants.models import PartnerAPIKey

TAGS = ["api-keys"]


class ApiKeySerializer(serializers.Serializer):
    id = serializers.CharField(source="prefix", help_text="The key's prefix: the part before the dot, not secret.")
    prefix = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField(source="created")
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Last request made with it (to the minute).")
    expires_at = serializers.DateTimeField(source="expiry_date", allow_null=True)
    revoked = serializers.BooleanField()
    current = serializers.SerializerMethodField(help_text="True for the key this request was made with.")

    def get_current(self, api_key) -> bool:
        calling = self.context.get("calling_key")
        return calling is not None and calling.pk == api_key.pk


class ApiKeyCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=50, help_text="What the key is for, e.g. 'production 2025-06'.")


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The whole key: shown this once only, store it now.")


def _calling_key(request) -> PartnerAPIKey:
    return request.user.api_key


class ApiKeyListApi(APIView):
    @extend_schema(summary="List your API keys",
                   description="Every key of your partner account, newest first: its prefix, name, when it was "
                               "created and last used, and whether it is revoked. Never the key itself.",
                   tags=TAGS, responses=ApiKeySerializer(many=True))
    def get(self, request):
        keys = PartnerAPIKey.objects.filter(partner=request.partner).order_by("-created")
        return Response(ApiKeySerializer(keys, many=True, context={"calling_key": _calling_key(request)}).data)

    @extend_schema(summary="Add an API key (to rotate keys)",
                   description="Creates a new key and answers it once, in `key`. Rotate by adding a key, moving "
                               "your systems to it, then revoking the old one. At most a few keys may be active at "
                               "once (409 `too_many_api_keys`).",
                   tags=TAGS, request=ApiKeyCreateSerializer,
                   responses={201: ApiKeyCreatedSerializer, 409: OpenApiResponse(description="Too many active keys.")})
    def post(self, request):
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        api_key, key = services.partner_api_key_add(partner=request.partner, name=body.validated_data["name"],
                                                    actor=actor_from_request(request))
        answer = ApiKeySerializer(api_key, context={"calling_key": _calling_key(request)}).data
        return Response({**answer, "key": key}, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(APIView):
    @extend_schema(summary="Revoke an API key",
                   description="The key stops working at once. The key you call with cannot revoke itself while "
                               "it is your only active key (409 `last_api_key`): add a new key first.",
                   tags=TAGS, request=None,
                   responses={200: ApiKeySerializer, 409: OpenApiResponse(description="Your last active key.")})
    @no_body
    def post(self, request, key_id):
        api_key = PartnerAPIKey.objects.filter(partner=request.partner, prefix=key_id).select_related("partner").first()
        if api_key is None:
            raise Http404
        api_key = services.partner_api_key_revoke(api_key=api_key, calling_key=_calling_key(request),
                                                  actor=actor_from_request(request))
        return Response(ApiKeySerializer(api_key, context={"calling_key": _calling_key(request)}).data)
