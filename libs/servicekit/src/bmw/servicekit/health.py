"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

Check = Callable[[], Awaitable[bool]]


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable")
    checks: dict[str, bool] = Field(default_factory=dict, description="Each dependency and whether it answers.")


def health_router(checks: dict[str, Check]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """Liveness: the process runs and serves requests."""
        return Health(status="ok")

    @router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz() -> JSONResponse:
        """Readiness: the database and the broker answer."""
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = await check()
            except Exception:  # noqa: BLE001 - a failing check is the answer, not an error
                results[name] = False
        ok = all(results.values())
        body = Health(status="ok" if ok else "unavailable", checks=results)
        return JSONResponse(status_code=200 if ok else 503, content=body.model_dump())

    return router
