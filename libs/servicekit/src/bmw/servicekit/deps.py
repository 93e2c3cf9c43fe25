"""FastAPI dependencies shared by every service (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bmw.servicekit.app import ServiceRuntime
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Unauthorized
from bmw.servicekit.uow import UnitOfWorkFactory

_bearer = HTTPBearer(auto_error=False, description="A signed JWT from the identity provider (dev: `bmw dev token`).")


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def get_principal(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    return runtime.verifier.verify(credentials.credentials)


def get_uow_factory(runtime: RuntimeDep) -> UnitOfWorkFactory:
    return runtime.uow


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
UowFactoryDep = Annotated[UnitOfWorkFactory, Depends(get_uow_factory)]
