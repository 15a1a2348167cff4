"""The connections' encrypted column: `core.crypto.CredentialField` under the name its migrations know."""

from __future__ import annotations

from core.crypto import (  # noqa: F401 - the names callers of connections use
    CredentialDecryptionError,
    credentials_fernet,
    current_fernet,
    decrypt_value,
    encrypt_value,
)
from core.crypto import CredentialField as _CredentialField


class CredentialField(_CredentialField):
    """An encrypted text column of a connection (see core.crypto)."""
