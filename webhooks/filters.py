import django_filters

from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)
    event_type = django_filters.ChoiceFilter(field_name="event__type", choices=[(t, t) for t in EVENT_TYPES])

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type"]
