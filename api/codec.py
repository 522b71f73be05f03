"""The codec server: lets the Temporal UI (and `temporal` CLI) show encrypted payloads to people
who are allowed to read them. Temporal's remote codec protocol: POST /decode and /encode with
`{"payloads": [...]}` (protobuf JSON), CORS for the UI's origin, and an optional bearer token."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Request, status
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec


def create_codec_app(codec: PayloadCodec, origins: list[str], token: str | None = None) -> FastAPI:
    app = FastAPI(title="chatbot-webhooks codec server", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
    )

    def check(authorization: str | None) -> None:
        if token and not hmac.compare_digest(authorization or "", f"Bearer {token}"):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is needed")

    async def payloads(request: Request) -> Payloads:
        try:
            return json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as err:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"not a Payloads JSON document: {err}") from None

    @app.post("/decode")
    async def decode(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
        check(authorization)
        decoded = await codec.decode((await payloads(request)).payloads)
        return json_format.MessageToDict(Payloads(payloads=decoded))

    @app.post("/encode")
    async def encode(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
        check(authorization)
        encoded = await codec.encode((await payloads(request)).payloads)
        return json_format.MessageToDict(Payloads(payloads=encoded))

    return app
