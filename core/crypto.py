"""Encryption of secrets at rest (connection credentials, webhook signing secrets), keyed by
`settings.CREDENTIALS_KEY` only.

django-cryptography's stock fields take their AES key from CRYPTOGRAPHY_KEY but sign with
SECRET_KEY, and fix the key when the model class is imported. `CredentialField` keeps the
library's storage format (Fernet-style: version, timestamp, IV, AES-CBC, HMAC-SHA256 over a
pickled value) but derives both the AES and the HMAC key from CREDENTIALS_KEY, looked up at each
use: rotating SECRET_KEY never touches credentials, and `rotate_credentials_key` (and tests) can
read with one key and write with another.
"""

from __future__ import annotations

import functools
import pickle
from typing import Any

from django.conf import settings
from django.db import models
from django_cryptography.core.signing import BadSignature, FernetSigner
from django_cryptography.fields import encrypt
from django_cryptography.utils.crypto import FernetBytes, InvalidToken, pbkdf2

_ITERATIONS = 30000


class CredentialDecryptionError(Exception):
    """A stored secret cannot be read with the key at hand (wrong key, or tampered data)."""


@functools.lru_cache(maxsize=8)
def credentials_fernet(key: str) -> FernetBytes:
    """The cipher for one CREDENTIALS_KEY value (derivation is slow on purpose: cached per key)."""
    salt = getattr(settings, "CRYPTOGRAPHY_SALT", "ml-connector.credentials")
    aes_key = pbkdf2(key, f"{salt}:aes", _ITERATIONS, dklen=32)
    mac_key = pbkdf2(key, f"{salt}:hmac", _ITERATIONS, dklen=32)
    return FernetBytes(aes_key, FernetSigner(mac_key))


def current_fernet() -> FernetBytes:
    return credentials_fernet(settings.CREDENTIALS_KEY)


def encrypt_value(value: Any, *, fernet: FernetBytes | None = None) -> bytes:
    return (fernet or current_fernet()).encrypt(pickle.dumps(value))


def decrypt_value(token: bytes, *, fernet: FernetBytes | None = None) -> Any:
    try:
        # Only data that passed the HMAC check is unpickled.
        return pickle.loads((fernet or current_fernet()).decrypt(bytes(token)))
    except (BadSignature, InvalidToken) as exc:
        raise CredentialDecryptionError(
            "A stored credential cannot be decrypted with the current CREDENTIALS_KEY. If the key was "
            "changed, run `manage.py rotate_credentials_key --old-key ...` with the previous key."
        ) from exc


_EncryptedTextField = type(encrypt(models.TextField()))


class CredentialField(_EncryptedTextField):
    """An encrypted text column (bytea in the database); only `isnull` lookups work on it."""

    @property
    def _fernet(self) -> FernetBytes:
        return current_fernet()

    @_fernet.setter
    def _fernet(self, value) -> None:
        # EncryptedMixin.__init__ assigns a cipher built from the stock settings: ignore it.
        pass

    def _dump(self, value: Any) -> bytes:
        return encrypt_value(value)

    def _load(self, value: bytes) -> Any:
        return decrypt_value(value)

    def deconstruct(self):
        name, path, args, kwargs = models.TextField.deconstruct(self)
        return name, f"{type(self).__module__}.{type(self).__qualname__}", args, kwargs
