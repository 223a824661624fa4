"""The API's routers, one module per kind of route; each reads the ServerState from ``app.state``."""

from __future__ import annotations

from fastapi import APIRouter

from dryci.server.routes import operations, publish, query, usage

ROUTERS: tuple[APIRouter, ...] = (query.router, publish.router, usage.router, operations.router)

__all__ = ["ROUTERS"]
