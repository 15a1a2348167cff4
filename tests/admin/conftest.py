"""Staff users of the admin: a superuser, and one member of each support role (from `setup_roles`)."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from tests.admin.support import STAFF_PASSWORD


def _login(client, django_user_model, username: str, *, superuser: bool = False, group: str | None = None):
    user = django_user_model.objects.create_user(username, password=STAFF_PASSWORD, is_staff=True,
                                                 is_superuser=superuser)
    if group:
        user.groups.add(Group.objects.get(name=group))
    assert client.login(username=username, password=STAFF_PASSWORD)
    return client


@pytest.fixture
def roles(db):
    call_command("setup_roles", verbosity=0)


@pytest.fixture
def superuser_client(client, django_user_model):
    return _login(client, django_user_model, "root", superuser=True)


@pytest.fixture
def support_admin_client(client, django_user_model, roles):
    return _login(client, django_user_model, "ada", group="Support admin")


@pytest.fixture
def read_only_client(client, django_user_model, roles):
    return _login(client, django_user_model, "rita", group="Support (read-only)")


# The sandbox-backed connection fixtures (qbo_app, jaggaer_app, fast_http, secret_guard).
from tests.connections.support import fast_http, jaggaer_app, qbo_app, secret_guard  # noqa: E402,F401
