"""Intake's dependencies (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from bmw.intake.adapters.crypto import PersonCipher, decode_key
from bmw.intake.application.common import Intake
from bmw.intake.settings import IntakeSettings
from bmw.servicekit.app import ServiceRuntime
from bmw.servicekit.deps import RuntimeDep
from bmw.servicekit.uow import UnitOfWorkFactory


def build_intake(settings: IntakeSettings, uow: UnitOfWorkFactory) -> Intake:
    return Intake(
        uow=uow,
        cipher=PersonCipher(decode_key(settings.key_encryption_key.get_secret_value())),
        pepper=settings.subject_pepper.get_secret_value().encode(),
        retention_years=settings.retention_years,
        working_notes_retention_days=settings.working_notes_retention_days,
    )


def intake_of(runtime: ServiceRuntime) -> Intake:
    """The intake dependencies of a running service, built once."""
    intake = runtime.extensions.get("intake")
    if not isinstance(intake, Intake):
        if not isinstance(runtime.settings, IntakeSettings):
            raise TypeError("the intake runtime needs IntakeSettings")
        intake = runtime.extensions["intake"] = build_intake(runtime.settings, runtime.uow)
    return intake


def get_intake(runtime: RuntimeDep) -> Intake:
    return intake_of(runtime)


IntakeDep = Annotated[Intake, Depends(get_intake)]
