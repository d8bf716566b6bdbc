"""The `X-API-Key` header as the API declares it: one OpenAPI security scheme for every route
that reads it, so the API's pages (/docs) send it from their "Authorize" dialog (issue 17,
item 5). A module of its own: the metrics and ops routes read the header too, and taking it
from `deps` (which knows the runtime) made an import cycle."""

from __future__ import annotations

from typing import Annotated

from fastapi import Security
from fastapi.security import APIKeyHeader

API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="an enterprise's or an admin's API key (`customs-gateway keys create`)",
    auto_error=False,
)
ApiKey = Annotated[str | None, Security(API_KEY)]
