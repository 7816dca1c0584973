"""A small web app that prices orders by scoring them on a model endpoint.

``POST /quote`` with ``{"items": [{"a": 1.0, "b": 2.0}, ...]}`` answers ``{"prices": [...]}``; the endpoint
URL and key come from the environment (``MODEL_URL``, ``MODEL_KEY``) or from ``create_app``'s arguments.
"""

from __future__ import annotations

import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

FEATURES = ["a", "b"]


def create_app(model_url: str | None = None, model_key: str | None = None) -> Starlette:
    """The app, scoring on ``model_url`` with ``model_key``."""
    url = model_url or os.environ["MODEL_URL"]
    key = model_key or os.environ["MODEL_KEY"]

    async def quote(request: Request) -> JSONResponse:
        items = (await request.json())["items"]
        rows = [[float(item[name]) for name in FEATURES] for item in items]
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                url,
                json={"input_data": {"columns": FEATURES, "data": rows}},
                headers={"Authorization": f"Bearer {key}"},
            )
        answer.raise_for_status()
        return JSONResponse({"prices": [round(float(value), 2) for value in answer.json()]})

    return Starlette(routes=[Route("/quote", quote, methods=["POST"])])
