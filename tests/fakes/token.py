"""A loopback Microsoft Entra token endpoint for the REAL azure-identity credentials.

Serves what MSAL asks an authority it was told not to discover (``disable_instance_discovery=True``):
``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
(client credentials grant, with a client secret or a federated client assertion). Every request is
recorded by the underlying :class:`FakeService`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from tests.fakes.server import FakeService, Request, Response

ISSUED_TOKEN = "fake-entra-access-token-0123456789"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""``client_assertion_type`` of a federated credential (workload identity, Azure Pipelines)."""


class FakeTokenEndpoint:
    """Token endpoint fake; ``grants`` lists the form fields of each token request (secrets included)."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.grants: list[dict[str, str]] = []
        self.expires_in = 3600
        """Lifetime of the tokens issued, in seconds (below 300 azure-identity asks again for every request)."""
        service.route("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", self._openid)
        service.route("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", self._token)

    def _openid(self, request: Request, match: re.Match[str]) -> Response:
        # Like Microsoft Entra, the endpoints are on the host the client asked (a cloud's sign-in host
        # reached through a routing proxy, or the loopback address).
        host = request.headers.get("host") or self.service.url.removeprefix("https://")
        base = f"https://{host}/{match['tenant']}"
        return Response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "response_types_supported": ["code", "id_token", "token"],
            },
        )

    def _token(self, request: Request, match: re.Match[str]) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        self.grants.append(form)
        secret = bool(form.get("client_secret"))
        assertion = form.get("client_assertion_type") == JWT_BEARER and bool(form.get("client_assertion"))
        if form.get("grant_type") != "client_credentials" or not (secret or assertion):
            return Response(400, {"error": "invalid_request", "error_description": "client credentials expected"})
        lifetime = self.expires_in
        return Response(
            200,
            {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": ISSUED_TOKEN},
        )
