"""Client organisations (tenants): billing is their system of record.

A profile holds the legal name, KvK number, VAT id, addresses, business contacts at the client, the account
manager, payment terms, where invoices go, and the org units (departments and locations, a tree). Every change
publishes the full new profile (``billing.client.registered.v1`` / ``.updated.v1``) so that the other services
keep their local copies; the events carry no contact and no address: contacts are personal data of the
client's staff and stay here.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.billing.adapters.tables import (
    ORGANISATION_ADDRESSES,
    ORGANISATION_CONTACTS,
    ORGANISATION_UNITS,
    ORGANISATIONS,
)
from bmw.billing.domain.identifiers import (
    InvalidIdentifier,
    normalise_country,
    normalise_electronic_address,
    normalise_kvk_number,
    normalise_postal_code,
    normalise_vat_id,
)
from bmw.contracts.events.billing import ClientRegistered, ClientUpdated, OrgUnit
from bmw.contracts.taxonomy import Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

AddressKind = Literal["visiting", "postal", "invoice"]
ADDRESS_KINDS: Final[tuple[AddressKind, ...]] = ("visiting", "postal", "invoice")
ContactRole = Literal["hr", "finance", "management", "other"]
OrgUnitKind = Literal["department", "location"]

DEFAULT_PAYMENT_TERMS_DAYS: Final = 30
PAYMENT_TERMS_DAYS_RANGE: Final = (7, 90)
MIN_K_ANONYMITY: Final = 5
#: The scope an integration needs to add, rename or move org units.
ORG_UNITS_WRITE_SCOPE: Final = "org_units:write"
_NOT_FOUND: Final = "client organisation not found"


# -- the profile --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """A postal address; the postal code is normalised for its country (``1234 AB`` in NL)."""

    street: str
    house_number: str
    postal_code: str
    city: str
    country: str = "NL"


@dataclass(frozen=True)
class Contact:
    """A business contact at the client (HR, finance, management): personal data, never in an event or log."""

    role: ContactRole
    name: str = field(repr=False)
    email: str = field(repr=False)
    phone: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ElectronicAddress:
    """An electronic address for e-invoices (Peppol endpoint, EN 16931 BT-49): EAS scheme and identifier."""

    scheme: str
    identifier: str


@dataclass
class Organisation:
    """A client organisation's profile. ``contacts`` is None when withheld from the caller."""

    id: uuid.UUID
    name: str
    kvk_number: str | None
    account_manager_id: str | None
    k_anonymity: int
    org_units: list[OrgUnit] = field(default_factory=list)
    vat_id: str | None = None
    addresses: dict[AddressKind, Address] = field(default_factory=dict)
    contacts: list[Contact] | None = field(default_factory=list, repr=False)
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS
    invoice_email: str | None = field(default=None, repr=False)
    electronic_address: ElectronicAddress | None = None

    @property
    def billing_address(self) -> Address | None:
        """The address on an invoice: the invoice address, else the postal, else the visiting address."""
        for kind in ("invoice", "postal", "visiting"):
            if kind in self.addresses:
                return self.addresses[kind]
        return None

    @property
    def buyer_endpoint(self) -> ElectronicAddress | None:
        """The Peppol endpoint of the buyer (BT-49): the one set, else the KvK number (0106), else a Dutch
        VAT id (9944); None if the organisation has none of them."""
        if self.electronic_address is not None:
            return self.electronic_address
        if self.kvk_number is not None:
            return ElectronicAddress(scheme="0106", identifier=self.kvk_number)
        if self.vat_id is not None and self.vat_id.startswith("NL"):
            return ElectronicAddress(scheme="9944", identifier=self.vat_id)
        return None


def _normalised(organisation: Organisation) -> Organisation:
    """The profile with its identifiers normalised; refuses it naming every offending field."""
    problems: list[FieldError] = []

    def check(path: str, normalise: Any, *args: Any) -> Any:
        try:
            return normalise(*args)
        except InvalidIdentifier as error:
            problems.append(FieldError(path=path, message=str(error)))
            return args[0]

    name = organisation.name.strip()
    if not 1 <= len(name) <= 200:
        problems.append(FieldError(path="body.name", message="1 to 200 characters"))
    kvk = organisation.kvk_number
    kvk = None if kvk is None else check("body.kvk_number", normalise_kvk_number, kvk)
    vat = organisation.vat_id
    vat = None if vat is None else check("body.vat_id", normalise_vat_id, vat)
    addresses: dict[AddressKind, Address] = {}
    for kind, address in organisation.addresses.items():
        country = check(f"body.addresses.{kind}.country", normalise_country, address.country)
        postal_code = check(f"body.addresses.{kind}.postal_code", normalise_postal_code, address.postal_code, country)
        addresses[kind] = dataclasses.replace(address, country=country, postal_code=postal_code)
    electronic = organisation.electronic_address
    if electronic is not None:
        identifier = check(
            "body.electronic_address.identifier",
            normalise_electronic_address,
            electronic.scheme,
            electronic.identifier,
        )
        electronic = ElectronicAddress(scheme=electronic.scheme, identifier=identifier)
    low, high = PAYMENT_TERMS_DAYS_RANGE
    if not low <= organisation.payment_terms_days <= high:
        problems.append(FieldError(path="body.payment_terms_days", message=f"between {low} and {high} days"))
    if organisation.k_anonymity < MIN_K_ANONYMITY:
        problems.append(FieldError(path="body.k_anonymity", message=f"at least {MIN_K_ANONYMITY}"))
    if problems:
        raise InvalidInput("invalid client organisation profile", fields=problems)
    return dataclasses.replace(
        organisation,
        name=name,
        kvk_number=kvk,
        vat_id=vat,
        addresses=addresses,
        electronic_address=electronic,
    )


# -- the org unit tree --------------------------------------------------------------------------


def tree_order(units: Sequence[OrgUnit], path: str) -> list[OrgUnit]:
    """The units with every parent before its children; refuses repeated ids, unknown parents and cycles.

    ``path`` prefixes the field paths of the refusal (e.g. ``body.org_units``).
    """
    by_id: dict[uuid.UUID, OrgUnit] = {}
    for index, unit in enumerate(units):
        if unit.id in by_id:
            raise InvalidInput(
                "org unit ids repeat", fields=[FieldError(path=f"{path}.{index}.id", message="ids must be unique")]
            )
        by_id[unit.id] = unit
    for index, unit in enumerate(units):
        if unit.parent_id is not None and unit.parent_id not in by_id:
            raise InvalidInput(
                "an org unit's parent is not one of the organisation's units",
                fields=[FieldError(path=f"{path}.{index}.parent_id", message="no such unit in this organisation")],
            )
    depth: dict[uuid.UUID, int] = {}
    for index, unit in enumerate(units):
        seen = {unit.id}
        parent = unit.parent_id
        levels = 0
        while parent is not None:
            if parent in seen:
                raise InvalidInput(
                    "the org units form a cycle",
                    fields=[FieldError(path=f"{path}.{index}.parent_id", message="makes the unit its own ancestor")],
                )
            seen.add(parent)
            levels += 1
            parent = by_id[parent].parent_id
        depth[unit.id] = levels
    return sorted(units, key=lambda unit: depth[unit.id])


def would_form_cycle(units: Sequence[OrgUnit], unit_id: uuid.UUID, new_parent_id: uuid.UUID) -> bool:
    """Whether hanging ``unit_id`` under ``new_parent_id`` makes it its own ancestor."""
    parents = {unit.id: unit.parent_id for unit in units}
    current: uuid.UUID | None = new_parent_id
    seen: set[uuid.UUID] = set()
    while current is not None and current not in seen:
        if current == unit_id:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


@dataclass(frozen=True)
class OrgUnitNode:
    """One unit of the tree with its children, sorted by name."""

    unit: OrgUnit
    children: list[OrgUnitNode]


def build_tree(units: Sequence[OrgUnit]) -> list[OrgUnitNode]:
    """The org units as a forest of root units (those without a parent), children sorted by name."""
    children: dict[uuid.UUID | None, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)

    def node(unit: OrgUnit) -> OrgUnitNode:
        kids = sorted(children.get(unit.id, []), key=lambda u: (u.name.casefold(), str(u.id)))
        return OrgUnitNode(unit=unit, children=[node(kid) for kid in kids])

    roots = sorted(children.get(None, []), key=lambda u: (u.name.casefold(), str(u.id)))
    return [node(root) for root in roots]


# -- who may do what ------------------------------------------------------------------------------


def _check_may_read(principal: Principal, tenant_id: uuid.UUID) -> None:
    """Admins read every organisation, account managers their portfolio, client contacts and integrations
    their own. Another tenant's organisation is "not found" to a tenant-bound caller, exactly as a
    non-existent one: the answer never tells whether it exists."""
    principal.require_role(Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT, Role.INTEGRATION)
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return
    if principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION):
        if principal.tenant_id == tenant_id:
            return
        raise NotFound(_NOT_FOUND)
    raise Forbidden("this client organisation is not in your portfolio")


def _may_see_contacts(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Contacts are personal data: admins, the account manager and the client's own contacts see them;
    machine clients (integrations) do not."""
    return (
        principal.has_role(Role.PROVIDER_ADMIN)
        or (principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio)
        or (principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id == tenant_id)
    )


def _as_seen_by(principal: Principal, organisation: Organisation) -> Organisation:
    if _may_see_contacts(principal, organisation.id):
        return organisation
    return dataclasses.replace(organisation, contacts=None)


def _check_may_change_units(principal: Principal, tenant_id: uuid.UUID) -> None:
    principal.require_role(Role.PROVIDER_ADMIN, Role.CLIENT_CONTACT, Role.INTEGRATION)
    principal.require_tenant(tenant_id)
    if (
        not principal.has_role(Role.PROVIDER_ADMIN, Role.CLIENT_CONTACT)
        and ORG_UNITS_WRITE_SCOPE not in principal.scopes
    ):
        raise Forbidden(f"this integration lacks the scope {ORG_UNITS_WRITE_SCOPE}")


# -- storage --------------------------------------------------------------------------------------


def _profile_values(organisation: Organisation) -> dict[str, Any]:
    electronic = organisation.electronic_address
    return {
        "name": organisation.name,
        "kvk_number": organisation.kvk_number,
        "vat_id": organisation.vat_id,
        "account_manager_id": organisation.account_manager_id,
        "k_anonymity": organisation.k_anonymity,
        "payment_terms_days": organisation.payment_terms_days,
        "invoice_email": organisation.invoice_email,
        "electronic_address_scheme": electronic.scheme if electronic else None,
        "electronic_address": electronic.identifier if electronic else None,
    }


async def _replace_addresses_and_contacts(session: AsyncSession, organisation: Organisation) -> None:
    tenant_id = organisation.id
    await session.execute(delete(ORGANISATION_ADDRESSES).where(ORGANISATION_ADDRESSES.c.tenant_id == tenant_id))
    if organisation.addresses:
        await session.execute(
            insert(ORGANISATION_ADDRESSES),
            [
                {"tenant_id": tenant_id, "kind": kind, **dataclasses.asdict(address)}
                for kind, address in organisation.addresses.items()
            ],
        )
    await session.execute(delete(ORGANISATION_CONTACTS).where(ORGANISATION_CONTACTS.c.tenant_id == tenant_id))
    if organisation.contacts:
        await session.execute(
            insert(ORGANISATION_CONTACTS),
            [
                {"tenant_id": tenant_id, "position": position, **dataclasses.asdict(contact)}
                for position, contact in enumerate(organisation.contacts)
            ],
        )


async def _insert_units(session: AsyncSession, tenant_id: uuid.UUID, units: Sequence[OrgUnit]) -> None:
    # Parents first: the (tenant_id, parent_id) foreign key is checked row by row.
    for unit in units:
        await session.execute(
            insert(ORGANISATION_UNITS).values(
                id=unit.id,
                tenant_id=tenant_id,
                name=unit.name,
                parent_id=unit.parent_id,
                kind=unit.kind,
                employees=unit.employees,
            )
        )


async def _refuse_taken_unit_ids(session: AsyncSession, units: Sequence[OrgUnit], path: str) -> None:
    wanted = {unit.id: index for index, unit in enumerate(units)}
    if not wanted:
        return
    taken = (
        (await session.execute(select(ORGANISATION_UNITS.c.id).where(ORGANISATION_UNITS.c.id.in_(wanted))))
        .scalars()
        .all()
    )
    if taken:
        index = min(wanted[unit_id] for unit_id in taken)
        raise Conflict(
            "an org unit with this id exists",
            fields=[FieldError(path=path.format(index=index), message="id already in use; leave it out")],
        )


async def _refuse_taken_kvk_number(session: AsyncSession, organisation: Organisation) -> None:
    if organisation.kvk_number is None:
        return
    other = await session.scalar(
        select(ORGANISATIONS.c.id).where(
            ORGANISATIONS.c.kvk_number == organisation.kvk_number, ORGANISATIONS.c.id != organisation.id
        )
    )
    if other is not None:
        raise _kvk_taken()


def _kvk_taken() -> Conflict:
    return Conflict(
        "a client organisation with this KvK number is already registered",
        fields=[FieldError(path="body.kvk_number", message="already registered")],
    )


def _conflict_of(error: IntegrityError) -> Conflict:
    # Only a concurrent registration of the same KvK number gets past the checks made before writing.
    if "uq_organisations_kvk_number" in str(error.orig):
        return _kvk_taken()
    return Conflict("the client organisation changed concurrently; retry")


def _unit_of(row: Any) -> OrgUnit:
    return OrgUnit(id=row.id, name=row.name, parent_id=row.parent_id, kind=row.kind, employees=row.employees)


def _organisation_of(
    row: Any, units: list[OrgUnit], addresses: dict[AddressKind, Address], contacts: list[Contact]
) -> Organisation:
    electronic = (
        ElectronicAddress(scheme=row.electronic_address_scheme, identifier=row.electronic_address)
        if row.electronic_address_scheme is not None
        else None
    )
    return Organisation(
        id=row.id,
        name=row.name,
        kvk_number=row.kvk_number,
        account_manager_id=row.account_manager_id,
        k_anonymity=row.k_anonymity,
        org_units=units,
        vat_id=row.vat_id,
        addresses=addresses,
        contacts=contacts,
        payment_terms_days=row.payment_terms_days,
        invoice_email=row.invoice_email,
        electronic_address=electronic,
    )


async def load_organisations(session: AsyncSession, tenant_ids: Sequence[uuid.UUID] | None) -> list[Organisation]:
    """The profiles of ``tenant_ids`` (all when None) with units, addresses and contacts, sorted by name."""
    query = select(ORGANISATIONS).order_by(ORGANISATIONS.c.name, ORGANISATIONS.c.id)
    if tenant_ids is not None:
        if not tenant_ids:
            return []
        query = query.where(ORGANISATIONS.c.id.in_(tenant_ids))
    rows = (await session.execute(query)).all()
    ids = [row.id for row in rows]
    if not ids:
        return []
    units: dict[uuid.UUID, list[OrgUnit]] = {}
    for unit in await session.execute(
        select(ORGANISATION_UNITS)
        .where(ORGANISATION_UNITS.c.tenant_id.in_(ids))
        .order_by(ORGANISATION_UNITS.c.name, ORGANISATION_UNITS.c.id)
    ):
        units.setdefault(unit.tenant_id, []).append(_unit_of(unit))
    addresses: dict[uuid.UUID, dict[AddressKind, Address]] = {}
    for address in await session.execute(
        select(ORGANISATION_ADDRESSES).where(ORGANISATION_ADDRESSES.c.tenant_id.in_(ids))
    ):
        addresses.setdefault(address.tenant_id, {})[address.kind] = Address(
            street=address.street,
            house_number=address.house_number,
            postal_code=address.postal_code,
            city=address.city,
            country=address.country,
        )
    contacts: dict[uuid.UUID, list[Contact]] = {}
    for contact in await session.execute(
        select(ORGANISATION_CONTACTS)
        .where(ORGANISATION_CONTACTS.c.tenant_id.in_(ids))
        .order_by(ORGANISATION_CONTACTS.c.position)
    ):
        contacts.setdefault(contact.tenant_id, []).append(
            Contact(role=contact.role, name=contact.name, email=contact.email, phone=contact.phone)
        )
    return [
        _organisation_of(
            row,
            units.get(row.id, []),
            {kind: addresses[row.id][kind] for kind in ADDRESS_KINDS if kind in addresses.get(row.id, {})},
            contacts.get(row.id, []),
        )
        for row in rows
    ]


async def load_organisation(
    session: AsyncSession, tenant_id: uuid.UUID, *, for_update: bool = False
) -> Organisation | None:
    """One client organisation's full profile, or None; ``for_update`` locks it until the transaction ends.

    For other use cases of billing (contracts, invoices): the buyer's name, KvK number, VAT id,
    ``billing_address``, ``buyer_endpoint``, ``payment_terms_days`` and ``invoice_email``.
    """
    if for_update:
        locked = await session.scalar(
            select(ORGANISATIONS.c.id).where(ORGANISATIONS.c.id == tenant_id).with_for_update()
        )
        if locked is None:
            return None
    found = await load_organisations(session, [tenant_id])
    return found[0] if found else None


async def _announce(work: UnitOfWork, organisation: Organisation, *, registered: bool = False) -> None:
    """Publish the full new profile; never a contact or an address (personal or not needed elsewhere)."""
    data = {
        "tenant_id": organisation.id,
        "name": organisation.name,
        "kvk_number": organisation.kvk_number,
        "org_units": organisation.org_units,
        "account_manager_id": organisation.account_manager_id,
        "k_anonymity": organisation.k_anonymity,
    }
    payload = ClientRegistered(**data) if registered else ClientUpdated(**data)
    await work.emit(payload, tenant_id=organisation.id, subject=str(organisation.id))


# -- use cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterClientOrganisation:
    """Onboard a client organisation with its profile and, optionally, its org tree."""

    name: str
    kvk_number: str | None
    account_manager_id: str | None
    k_anonymity: int
    org_units: list[OrgUnit]
    vat_id: str | None = None
    addresses: Mapping[AddressKind, Address] = field(default_factory=dict)
    contacts: Sequence[Contact] = ()
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS
    invoice_email: str | None = None
    electronic_address: ElectronicAddress | None = None


async def register_client_organisation(
    command: RegisterClientOrganisation, *, principal: Principal, uow: UnitOfWorkFactory
) -> Organisation:
    """Onboard a client organisation and tell the other services (billing.client.registered.v1)."""
    principal.require_role(Role.PROVIDER_ADMIN)
    units = tree_order(command.org_units, "body.org_units")
    organisation = _normalised(
        Organisation(
            id=uuid.uuid4(),
            name=command.name,
            kvk_number=command.kvk_number,
            account_manager_id=command.account_manager_id,
            k_anonymity=command.k_anonymity,
            org_units=sorted(command.org_units, key=lambda u: (u.name, u.id)),
            vat_id=command.vat_id,
            addresses={kind: command.addresses[kind] for kind in ADDRESS_KINDS if kind in command.addresses},
            contacts=list(command.contacts),
            payment_terms_days=command.payment_terms_days,
            invoice_email=command.invoice_email,
            electronic_address=command.electronic_address,
        )
    )
    try:
        async with uow() as work:  # kvk numbers and unit ids are unique across organisations
            await _refuse_taken_kvk_number(work.session, organisation)
            await _refuse_taken_unit_ids(work.session, command.org_units, "body.org_units.{index}.id")
            await work.session.execute(
                insert(ORGANISATIONS).values(id=organisation.id, **_profile_values(organisation))
            )
            await _replace_addresses_and_contacts(work.session, organisation)
            await _insert_units(work.session, organisation.id, units)
            await _announce(work, organisation, registered=True)
            await work.commit()
    except IntegrityError as error:
        raise _conflict_of(error) from error
    return organisation


async def list_organisations(*, principal: Principal, uow: UnitOfWorkFactory) -> list[Organisation]:
    """The organisations the caller may see: all for admins, the portfolio of an account manager, their own
    for client contacts and integrations."""
    principal.require_role(Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT, Role.INTEGRATION)
    visible: list[uuid.UUID] | None = None
    if not principal.has_role(Role.PROVIDER_ADMIN):
        visible = []
        if principal.has_role(Role.ACCOUNT_MANAGER):
            visible.extend(principal.portfolio)
        if principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION) and principal.tenant_id is not None:
            visible.append(principal.tenant_id)
    async with uow() as work:
        found = await load_organisations(work.session, visible)
    return [_as_seen_by(principal, organisation) for organisation in found]


async def get_organisation(tenant_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> Organisation:
    """One client organisation, if the caller may see it (contacts withheld from integrations)."""
    _check_may_read(principal, tenant_id)
    async with uow(tenant_id=tenant_id) as work:
        organisation = await load_organisation(work.session, tenant_id)
    if organisation is None:
        raise NotFound(_NOT_FOUND)
    return _as_seen_by(principal, organisation)


class Unchanged(Enum):
    """Marks a field a change leaves as it is (None would mean "clear it")."""

    UNCHANGED = "unchanged"


UNCHANGED: Final = Unchanged.UNCHANGED


@dataclass(frozen=True)
class ChangeClientOrganisation:
    """Changes to a profile; fields left ``UNCHANGED`` stay. ``addresses`` replaces the kinds it names
    (None removes that address); ``contacts`` replaces the whole list."""

    name: str | Unchanged = UNCHANGED
    kvk_number: str | Unchanged | None = UNCHANGED
    vat_id: str | Unchanged | None = UNCHANGED
    account_manager_id: str | Unchanged | None = UNCHANGED
    k_anonymity: int | Unchanged = UNCHANGED
    payment_terms_days: int | Unchanged = UNCHANGED
    invoice_email: str | Unchanged | None = UNCHANGED
    electronic_address: ElectronicAddress | Unchanged | None = UNCHANGED
    addresses: Mapping[AddressKind, Address | None] | Unchanged = UNCHANGED
    contacts: Sequence[Contact] | Unchanged = UNCHANGED


def _changed(current: Organisation, command: ChangeClientOrganisation) -> Organisation:
    changes: dict[str, Any] = {
        name: value
        for name in (
            "name",
            "kvk_number",
            "vat_id",
            "account_manager_id",
            "k_anonymity",
            "payment_terms_days",
            "invoice_email",
            "electronic_address",
        )
        if (value := getattr(command, name)) is not UNCHANGED
    }
    if not isinstance(command.addresses, Unchanged):
        merged = dict(current.addresses)
        for kind, address in command.addresses.items():
            if address is None:
                merged.pop(kind, None)
            else:
                merged[kind] = address
        changes["addresses"] = {kind: merged[kind] for kind in ADDRESS_KINDS if kind in merged}
    if not isinstance(command.contacts, Unchanged):
        changes["contacts"] = list(command.contacts)
    return dataclasses.replace(current, **changes)


async def change_client_organisation(
    tenant_id: uuid.UUID, command: ChangeClientOrganisation, *, principal: Principal, uow: UnitOfWorkFactory
) -> Organisation:
    """Change any part of a profile (provider admins) and publish it in full (billing.client.updated.v1).

    The small-cell threshold k only goes up. A change that changes nothing writes and publishes nothing.
    """
    principal.require_role(Role.PROVIDER_ADMIN)
    try:
        async with uow(tenant_id=tenant_id) as work:
            current = await load_organisation(work.session, tenant_id, for_update=True)
            if current is None:
                raise NotFound(_NOT_FOUND)
            changed = _normalised(_changed(current, command))
            if changed.k_anonymity < current.k_anonymity:
                raise InvalidInput(
                    "the small-cell threshold can only be raised",
                    fields=[
                        FieldError(
                            path="body.k_anonymity",
                            message=f"configurable upward only: at least the current {current.k_anonymity}",
                        )
                    ],
                )
            if changed == current:
                return current
            await _refuse_taken_kvk_number(work.session, changed)
            await work.session.execute(
                update(ORGANISATIONS)
                .where(ORGANISATIONS.c.id == tenant_id)
                .values(**_profile_values(changed), updated_at=func.now())
            )
            await _replace_addresses_and_contacts(work.session, changed)
            await _announce(work, changed)
            await work.commit()
    except IntegrityError as error:
        raise _conflict_of(error) from error
    return changed


# -- org units ------------------------------------------------------------------------------------


async def _change_units(
    tenant_id: uuid.UUID,
    principal: Principal,
    uow: UnitOfWorkFactory,
    apply: Callable[[AsyncSession, Organisation], Awaitable[bool]],
) -> Organisation:
    """Lock the organisation, let ``apply(session, organisation)`` change its units, publish the profile."""
    _check_may_change_units(principal, tenant_id)
    async with uow(tenant_id=tenant_id) as work:
        # The lock serialises tree changes of one organisation: two concurrent moves could form a cycle
        # that neither sees alone.
        organisation = await load_organisation(work.session, tenant_id, for_update=True)
        if organisation is None:
            raise NotFound(_NOT_FOUND)
        if not await apply(work.session, organisation):
            return _as_seen_by(principal, organisation)
        await work.session.execute(
            update(ORGANISATIONS).where(ORGANISATIONS.c.id == tenant_id).values(updated_at=func.now())
        )
        organisation.org_units.sort(key=lambda u: (u.name, u.id))
        await _announce(work, organisation)
        await work.commit()
    return _as_seen_by(principal, organisation)


def _refuse_foreign_parent(organisation: Organisation, parent_id: uuid.UUID | None) -> None:
    if parent_id is not None and all(unit.id != parent_id for unit in organisation.org_units):
        raise InvalidInput(
            "an org unit's parent is not one of the organisation's units",
            fields=[FieldError(path="body.parent_id", message="no such unit in this organisation")],
        )


async def add_org_unit(
    tenant_id: uuid.UUID, unit: OrgUnit, *, principal: Principal, uow: UnitOfWorkFactory
) -> Organisation:
    """Add an org unit and publish the full new profile (billing.client.updated.v1)."""

    async def apply(session: AsyncSession, organisation: Organisation) -> bool:
        _refuse_foreign_parent(organisation, unit.parent_id)
        await _refuse_taken_unit_ids(session, [unit], "body.id")
        await _insert_units(session, tenant_id, [unit])
        organisation.org_units.append(unit)
        return True

    try:
        return await _change_units(tenant_id, principal, uow, apply)
    except IntegrityError as error:
        raise Conflict(
            "an org unit with this id exists", fields=[FieldError(path="body.id", message="id already in use")]
        ) from error


@dataclass(frozen=True)
class ChangeOrgUnit:
    """Rename, move (``parent_id``; None makes it a root unit), re-kind an org unit or change its headcount
    (``employees``; None clears it)."""

    name: str | Unchanged = UNCHANGED
    parent_id: uuid.UUID | Unchanged | None = UNCHANGED
    kind: OrgUnitKind | Unchanged = UNCHANGED
    employees: int | Unchanged | None = UNCHANGED


async def change_org_unit(
    tenant_id: uuid.UUID,
    unit_id: uuid.UUID,
    command: ChangeOrgUnit,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> Organisation:
    """Rename, move, re-kind or re-count an org unit; a move under its own descendant (a cycle) is refused."""

    async def apply(session: AsyncSession, organisation: Organisation) -> bool:
        index = next((i for i, unit in enumerate(organisation.org_units) if unit.id == unit_id), None)
        if index is None:
            raise NotFound("org unit not found")
        current = organisation.org_units[index]
        changes: dict[str, Any] = {}
        if not isinstance(command.name, Unchanged):
            changes["name"] = command.name
        if not isinstance(command.kind, Unchanged):
            changes["kind"] = command.kind
        if not isinstance(command.employees, Unchanged):
            changes["employees"] = command.employees
        if not isinstance(command.parent_id, Unchanged):
            parent_id = command.parent_id
            _refuse_foreign_parent(organisation, parent_id)
            if parent_id is not None and would_form_cycle(organisation.org_units, unit_id, parent_id):
                raise InvalidInput(
                    "the move would make the unit its own ancestor",
                    fields=[FieldError(path="body.parent_id", message="is the unit itself or one of its descendants")],
                )
            changes["parent_id"] = parent_id
        changed = OrgUnit(**(current.model_dump() | changes))
        if changed == current:
            return False
        organisation.org_units[index] = changed
        await session.execute(
            update(ORGANISATION_UNITS)
            .where(ORGANISATION_UNITS.c.id == unit_id, ORGANISATION_UNITS.c.tenant_id == tenant_id)
            .values(name=changed.name, parent_id=changed.parent_id, kind=changed.kind, employees=changed.employees)
        )
        return True

    return await _change_units(tenant_id, principal, uow, apply)


async def get_org_unit_tree(tenant_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> list[OrgUnitNode]:
    """The complete org unit tree of a client organisation, for whoever may read the organisation."""
    organisation = await get_organisation(tenant_id, principal=principal, uow=uow)
    return build_tree(organisation.org_units)
