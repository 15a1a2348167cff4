"""The JAGGAER J1P sandbox."""
from .app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ENTITIES, TOKEN_PATH, JaggaerApp, RecordNotFound

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "ENTITIES", "TOKEN_PATH", "JaggaerApp", "RecordNotFound"]
