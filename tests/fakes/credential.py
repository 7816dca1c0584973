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


def _segment(data: dict[str, Any]) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class JwtTokenCredential(StaticTokenCredential):
    """Like :class:`StaticTokenCredential`, but each token is a JWT whose audience is the scope's resource.

    azure-ai-ml decodes the token it sends with a pipeline job (without verifying the signature) and
    requires the Azure ML audience, as Microsoft Entra tokens have.
    """

    def _jwt(self, scopes: tuple[str, ...]) -> str:
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        claims = {"aud": audience, "tid": "00000000-0000-0000-0000-0000000000aa", "oid": "fake-user"}
        return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}.{_segment({'signature': 'fake'})}"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self._jwt(scopes), int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.extend(scopes)
        return AccessTokenInfo(self._jwt(scopes), int(time.time()) + 3600)
