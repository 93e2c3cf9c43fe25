"""FastAPI dependencies shared by every service (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bmw.servicekit.app import ServiceRuntime
from bmw.servicekit.auth import Principal
from bmw.servicekit.context import with_tenant
from bmw.servicekit.errors import Unauthorized
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import TenantScope, set_scope

_bearer = HTTPBearer(auto_error=False, description="A signed JWT from the identity provider (dev: `bmw dev token`).")


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_principal(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The verified caller; from here on the request's units of work reach the organisations it may see."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    verifier = runtime.verifier
    if verifier.fetches_keys:  # a JWKS fetch must not hold up the event loop
        principal = await to_thread.run_sync(verifier.verify, credentials.credentials)
    else:
        principal = verifier.verify(credentials.credentials)
    set_scope(TenantScope.of(principal))
    if principal.tenant_id is not None:
        with_tenant(str(principal.tenant_id))  # the request's log lines name the caller's own organisation
    return principal


def get_uow_factory(runtime: RuntimeDep) -> UnitOfWorkFactory:
    return runtime.uow


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
UowFactoryDep = Annotated[UnitOfWorkFactory, Depends(get_uow_factory)]
