"""The person vault: personal data sealed per person, found by pseudonym or by login subject."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.intake.adapters.crypto import CryptoError, PersonCipher
from bmw.intake.adapters.tables import PERSON_KEYS, PERSONS


def new_client_ref() -> str:
    """A pseudonym for a person: random, so it cannot be reversed to the person outside intake."""
    return "c_" + secrets.token_urlsafe(16)


class PersonVault:
    """Creates persons with their own data key, seals and opens their data, and shreds it."""

    def __init__(self, session: AsyncSession, cipher: PersonCipher, pepper: bytes) -> None:
        self.session = session
        self.cipher = cipher
        self.pepper = pepper
        self._keys: dict[uuid.UUID, bytes] = {}

    def subject_hash(self, subject: str) -> str:
        """Links a login to a person without storing the login id itself."""
        return hmac.new(self.pepper, subject.encode(), hashlib.sha256).hexdigest()

    async def create(
        self, *, tenant_id: uuid.UUID, fields: dict[str, Any], subject: str | None = None
    ) -> tuple[uuid.UUID, str]:
        """A new person with a fresh data key; returns (person id, client_ref)."""
        person_id = uuid.uuid4()
        client_ref = new_client_ref()
        data_key, wrapped = self.cipher.new_data_key(person_id)
        self._keys[person_id] = data_key
        await self.session.execute(
            insert(PERSONS).values(
                id=person_id,
                tenant_id=tenant_id,
                client_ref=client_ref,
                subject_hash=self.subject_hash(subject) if subject else None,
                sealed=self.cipher.seal(data_key, person_id, fields),
            )
        )
        await self.session.execute(
            insert(PERSON_KEYS).values(person_id=person_id, wrapped_key=wrapped, key_id=self.cipher.key_id)
        )
        return person_id, client_ref

    async def _data_key(self, person_id: uuid.UUID) -> bytes | None:
        if person_id not in self._keys:
            wrapped = await self.session.scalar(
                select(PERSON_KEYS.c.wrapped_key).where(PERSON_KEYS.c.person_id == person_id)
            )
            if wrapped is None:
                return None  # shredded: the data is gone for good
            self._keys[person_id] = self.cipher.unwrap(wrapped, person_id)
        return self._keys[person_id]

    async def seal(self, person_id: uuid.UUID, fields: dict[str, Any]) -> bytes:
        key = await self._data_key(person_id)
        if key is None:
            raise CryptoError("the person's key was shredded")
        return self.cipher.seal(key, person_id, fields)

    async def open(self, person_id: uuid.UUID, sealed: bytes | None) -> dict[str, Any] | None:
        """The fields, or None when the person was erased."""
        key = await self._data_key(person_id)
        if key is None or sealed is None:
            return None
        return self.cipher.open(key, person_id, sealed)

    async def profile(self, person_id: uuid.UUID) -> dict[str, Any] | None:
        sealed = await self.session.scalar(select(PERSONS.c.sealed).where(PERSONS.c.id == person_id))
        return await self.open(person_id, sealed)

    async def find(self, client_ref: str) -> tuple[uuid.UUID, uuid.UUID] | None:
        """(person id, tenant id) of a pseudonym."""
        row = (
            await self.session.execute(
                select(PERSONS.c.id, PERSONS.c.tenant_id).where(
                    PERSONS.c.client_ref == client_ref, PERSONS.c.erased_at.is_(None)
                )
            )
        ).first()
        return (row.id, row.tenant_id) if row else None

    async def find_by_subject(self, tenant_id: uuid.UUID, subject: str) -> list[uuid.UUID]:
        rows = await self.session.execute(
            select(PERSONS.c.id).where(
                PERSONS.c.tenant_id == tenant_id,
                PERSONS.c.subject_hash == self.subject_hash(subject),
                PERSONS.c.erased_at.is_(None),
            )
        )
        return list(rows.scalars())

    async def shred(self, person_id: uuid.UUID) -> None:
        """Crypto-shredding: delete the data key and the sealed data, keep only the erased marker."""
        await self.session.execute(delete(PERSON_KEYS).where(PERSON_KEYS.c.person_id == person_id))
        await self.session.execute(
            update(PERSONS)
            .where(PERSONS.c.id == person_id)
            .values(sealed=None, subject_hash=None, erased_at=datetime.now(UTC))
        )
        self._keys.pop(person_id, None)
