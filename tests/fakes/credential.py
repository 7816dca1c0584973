"""A static azure-core TokenCredential for the fakes (no identity service involved)."""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

FAKE_TOKEN = "fake-aad-token-value-0123456789"


class StaticTokenCredential:
    """Returns the same bearer token for every scope and records the scopes asked for."""

    def __init__(self, token: str = FAKE_TOKEN) -> None:
        self.token = token
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.extend(scopes)
        return AccessTokenInfo(self.token, int(time.time()) + 3600)
