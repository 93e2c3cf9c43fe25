"""Billing's HTTP API for client organisations (tenants): profiles and their org unit trees."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, status
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from bmw.billing.application.organisations import (
    UNCHANGED,
    Address,
    AddressKind,
    ChangeClientOrganisation,
    ChangeOrgUnit,
    Contact,
    ElectronicAddress,
    Organisation,
    OrgUnitNode,
    RegisterClientOrganisation,
    add_org_unit,
    change_client_organisation,
    change_org_unit,
    get_org_unit_tree,
    get_organisation,
    list_organisations,
    register_client_organisation,
)
from bmw.billing.domain.identifiers import (
    ELECTRONIC_ADDRESS_SCHEMES,
    InvalidIdentifier,
    normalise_country,
    normalise_electronic_address,
    normalise_kvk_number,
    normalise_postal_code,
    normalise_vat_id,
)
from bmw.contracts.events.billing import OrgUnit
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import FieldError, InvalidInput, error_responses

router = APIRouter(tags=["client organisations"])


def _identifier(normalise: Callable[[str], str]) -> Callable[[str], str]:
    """A validator that normalises with a domain function and reports its message as the field's error."""

    def validate(value: str) -> str:
        try:
            return normalise(value)
        except InvalidIdentifier as error:
            raise PydanticCustomError("invalid_identifier", str(error)) from error

    return validate


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
KvkNumber = Annotated[str, StringConstraints(max_length=40), AfterValidator(_identifier(normalise_kvk_number))]
VatId = Annotated[str, StringConstraints(max_length=40), AfterValidator(_identifier(normalise_vat_id))]
Country = Annotated[str, StringConstraints(max_length=10), AfterValidator(_identifier(normalise_country))]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-]{5,24}$")]
HouseNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z][0-9A-Za-z \-/]{0,19}$")]
SubjectId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
KAnonymity = Annotated[int, Field(ge=5, le=100)]
PaymentTermsDays = Annotated[int, Field(ge=7, le=90)]
#: Strict: a headcount of ``true``, ``"12"`` or ``12.0`` is a client's mistake to report, not to guess at.
Headcount = Annotated[int, Field(strict=True, gt=0, le=1_000_000)]
_HEADCOUNT = (
    "Number of employees in the unit (headcount, own employees only, not its sub-units); signals judges the "
    "unit's referral rate against it."
)


# -- request models -------------------------------------------------------------------------------


class AddressWrite(BaseModel):
    """A postal address; the postal code is checked and normalised for the country (``1234ab`` → ``1234 AB``)."""

    model_config = ConfigDict(extra="forbid")

    # The country comes first: the postal code is validated for it.
    country: Country = Field(default="NL", description="ISO 3166-1 alpha-2 country code; NL when absent.")
    street: ShortText = Field(description="Street name.")
    house_number: HouseNumber = Field(description="House number with any addition, e.g. 12, 12A or 12-3.")
    postal_code: Annotated[str, StringConstraints(max_length=20)] = Field(
        description="Postal code; Dutch codes as 1234 AB (4 digits, 2 letters)."
    )
    city: ShortText = Field(description="City (woonplaats).")

    @field_validator("postal_code")
    @classmethod
    def _postal_code_of_country(cls, value: str, info: ValidationInfo) -> str:
        country = info.data.get("country")
        if country is None:  # the country itself is invalid and reported
            return value
        try:
            return normalise_postal_code(value, country)
        except InvalidIdentifier as error:
            raise PydanticCustomError("invalid_identifier", str(error)) from error

    def to_address(self) -> Address:
        return Address(
            street=self.street,
            house_number=self.house_number,
            postal_code=self.postal_code,
            city=self.city,
            country=self.country,
        )


class AddressesWrite(BaseModel):
    """The organisation's addresses by purpose. In a change, a named purpose is replaced (null removes it)
    and the others stay."""

    model_config = ConfigDict(extra="forbid")

    visiting: AddressWrite | None = Field(default=None, description="Visiting address (bezoekadres).")
    postal: AddressWrite | None = Field(default=None, description="Postal address (postadres).")
    invoice: AddressWrite | None = Field(default=None, description="Invoice address (factuuradres).")

    def given(self) -> dict[AddressKind, Address | None]:
        """The purposes named in the request: an address, or None to remove it."""
        result: dict[AddressKind, Address | None] = {}
        for kind in ("visiting", "postal", "invoice"):
            if kind in self.model_fields_set:
                address: AddressWrite | None = getattr(self, kind)
                result[kind] = address.to_address() if address is not None else None
        return result

    def present(self) -> dict[AddressKind, Address]:
        return {kind: address for kind, address in self.given().items() if address is not None}


class ContactWrite(BaseModel):
    """A business contact at the client organisation. Personal data: stays in billing, never in an event."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["hr", "finance", "management", "other"] = Field(
        description="What the contact is for: hr (HR / P&O), finance, management or other."
    )
    name: Name = Field(description="Name of the contact person.")
    email: EmailStr = Field(description="Business e-mail address.")
    phone: Phone | None = Field(default=None, description="Business phone number, e.g. +31 20 123 4567.")

    def to_contact(self) -> Contact:
        return Contact(role=self.role, name=self.name, email=str(self.email), phone=self.phone)


class ElectronicAddressWrite(BaseModel):
    """Electronic address for e-invoices (Peppol endpoint, EN 16931 BT-49)."""

    model_config = ConfigDict(extra="forbid")

    scheme: str = Field(
        description="EAS scheme code: "
        + ", ".join(f"{code} ({text})" for code, text in ELECTRONIC_ADDRESS_SCHEMES.items())
    )
    identifier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = Field(
        description="The identifier within the scheme, e.g. a KvK number for 0106."
    )

    @field_validator("scheme")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value not in ELECTRONIC_ADDRESS_SCHEMES:
            raise PydanticCustomError(
                "invalid_identifier", "unknown scheme; known: " + ", ".join(ELECTRONIC_ADDRESS_SCHEMES)
            )
        return value

    @field_validator("identifier")
    @classmethod
    def _identifier_of_scheme(cls, value: str, info: ValidationInfo) -> str:
        scheme = info.data.get("scheme")
        if scheme is None:
            return value
        try:
            return normalise_electronic_address(scheme, value)
        except InvalidIdentifier as error:
            raise PydanticCustomError("invalid_identifier", str(error)) from error

    def to_address(self) -> ElectronicAddress:
        return ElectronicAddress(scheme=self.scheme, identifier=self.identifier)


class OrgUnitCreate(BaseModel):
    """A department or location. Give ids yourself to build a tree in one request."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(default=None, description="Id to use; generated when absent.")
    name: Name = Field(description="Name of the department or location.")
    parent_id: uuid.UUID | None = Field(default=None, description="Parent unit (one of this organisation's).")
    kind: Literal["department", "location"] = Field(
        default="department", description="department (organisational unit) or location (a site)."
    )
    employees: Headcount | None = Field(default=None, description=_HEADCOUNT + " Absent when not known.")

    def to_unit(self) -> OrgUnit:
        return OrgUnit(
            id=self.id or uuid.uuid4(),
            name=self.name,
            parent_id=self.parent_id,
            kind=self.kind,
            employees=self.employees,
        )


class OrgUnitChange(BaseModel):
    """Rename, move, re-kind or re-count an org unit; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, description="New name.")
    parent_id: uuid.UUID | None = Field(
        default=None,
        description="New parent (one of this organisation's units, not the unit itself or below it); null makes "
        "it a top-level unit.",
    )
    kind: Literal["department", "location"] | None = Field(default=None, description="department or location.")
    employees: Headcount | None = Field(default=None, description=_HEADCOUNT + " Null clears it.")


class ClientOrganisationCreate(BaseModel):
    """Onboard a client organisation. Only the name is required; the rest can follow by PATCH."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Legal name.")
    kvk_number: KvkNumber | None = Field(
        default=None, description="Chamber of Commerce (KvK) number: exactly 8 digits; unique."
    )
    vat_id: VatId | None = Field(
        default=None,
        description="VAT id (btw-id) with its EU country prefix, e.g. NL004495445B01; checked (NL: mod 97 or "
        "elfproef, BE and DE: check digits) and stored without separators.",
    )
    account_manager_id: SubjectId | None = Field(default=None, description="Subject id of the account manager.")
    k_anonymity: KAnonymity = Field(default=5, description="Small-cell threshold (5 or more); raised only.")
    payment_terms_days: PaymentTermsDays = Field(default=30, description="Payment term of invoices in days (7-90).")
    invoice_email: EmailStr | None = Field(default=None, description="Mailbox that receives the invoices.")
    electronic_address: ElectronicAddressWrite | None = Field(
        default=None, description="Peppol endpoint for e-invoices; the KvK number (0106) is used when absent."
    )
    addresses: AddressesWrite = Field(
        default_factory=AddressesWrite, description="Visiting, postal and invoice address."
    )
    contacts: list[ContactWrite] = Field(
        default_factory=list, max_length=50, description="Business contacts at the organisation."
    )
    org_units: list[OrgUnitCreate] = Field(default_factory=list, max_length=2000, description="Org units.")


class ClientOrganisationChange(BaseModel):
    """Changes to a profile; fields left out stay. Nullable fields are cleared with null."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, description="Legal name.")
    kvk_number: KvkNumber | None = Field(default=None, description="KvK number (8 digits); null clears it.")
    vat_id: VatId | None = Field(default=None, description="VAT id with country prefix; null clears it.")
    account_manager_id: SubjectId | None = Field(default=None, description="Account manager; null clears it.")
    k_anonymity: KAnonymity | None = Field(default=None, description="Small-cell threshold: only upward.")
    payment_terms_days: PaymentTermsDays | None = Field(default=None, description="Payment term in days (7-90).")
    invoice_email: EmailStr | None = Field(default=None, description="Invoice mailbox; null clears it.")
    electronic_address: ElectronicAddressWrite | None = Field(
        default=None, description="Peppol endpoint; null clears it."
    )
    addresses: AddressesWrite | None = Field(
        default=None, description="Addresses to replace by purpose; a purpose set to null is removed."
    )
    contacts: list[ContactWrite] | None = Field(
        default=None, max_length=50, description="The complete new list of contacts (replaces the old)."
    )

    def to_command(self) -> ChangeClientOrganisation:
        given = self.model_fields_set
        not_null = ("name", "k_anonymity", "payment_terms_days", "addresses", "contacts")
        nulls = [name for name in not_null if name in given and getattr(self, name) is None]
        if nulls:
            raise InvalidInput(
                "these fields cannot be cleared",
                fields=[FieldError(path=f"body.{name}", message="must not be null") for name in nulls],
            )

        def pick(name: str, value: Any) -> Any:
            return value if name in given else UNCHANGED

        return ChangeClientOrganisation(
            name=pick("name", self.name),
            kvk_number=pick("kvk_number", self.kvk_number),
            vat_id=pick("vat_id", self.vat_id),
            account_manager_id=pick("account_manager_id", self.account_manager_id),
            k_anonymity=pick("k_anonymity", self.k_anonymity),
            payment_terms_days=pick("payment_terms_days", self.payment_terms_days),
            invoice_email=pick("invoice_email", None if self.invoice_email is None else str(self.invoice_email)),
            electronic_address=pick(
                "electronic_address", self.electronic_address.to_address() if self.electronic_address else None
            ),
            addresses=pick("addresses", self.addresses.given() if self.addresses else None),
            contacts=pick("contacts", [c.to_contact() for c in self.contacts or []]),
        )


# -- response models ------------------------------------------------------------------------------


class OrgUnitRead(BaseModel):
    """A department or location."""

    id: uuid.UUID = Field(description="Org unit id.")
    name: str = Field(description="Name of the department or location.")
    parent_id: uuid.UUID | None = Field(description="Parent unit, if any.")
    kind: Literal["department", "location"] = Field(description="department or location.")
    employees: int | None = Field(description="Headcount of the unit itself (not its sub-units); null if not given.")

    @classmethod
    def of(cls, unit: OrgUnit) -> OrgUnitRead:
        return cls(id=unit.id, name=unit.name, parent_id=unit.parent_id, kind=unit.kind, employees=unit.employees)


class OrgUnitTreeNode(BaseModel):
    """One unit of the org tree with the units below it."""

    id: uuid.UUID = Field(description="Org unit id.")
    name: str = Field(description="Name of the department or location.")
    parent_id: uuid.UUID | None = Field(description="Parent unit, if any.")
    kind: Literal["department", "location"] = Field(description="department or location.")
    employees: int | None = Field(description="Headcount of the unit itself (not its sub-units); null if not given.")
    children: list[OrgUnitTreeNode] = Field(description="The units directly below, sorted by name.")

    @classmethod
    def of(cls, node: OrgUnitNode) -> OrgUnitTreeNode:
        unit = node.unit
        return cls(
            id=unit.id,
            name=unit.name,
            parent_id=unit.parent_id,
            kind=unit.kind,
            employees=unit.employees,
            children=[cls.of(child) for child in node.children],
        )


class AddressRead(BaseModel):
    """A postal address."""

    street: str = Field(description="Street name.")
    house_number: str = Field(description="House number with any addition.")
    postal_code: str = Field(description="Postal code, normalised (1234 AB in NL).")
    city: str = Field(description="City.")
    country: str = Field(description="ISO 3166-1 alpha-2 country code.")


class AddressesRead(BaseModel):
    """The organisation's addresses by purpose."""

    visiting: AddressRead | None = Field(description="Visiting address, if known.")
    postal: AddressRead | None = Field(description="Postal address, if known.")
    invoice: AddressRead | None = Field(description="Invoice address, if known (else the postal one is used).")


class ContactRead(BaseModel):
    """A business contact at the client organisation."""

    role: str = Field(description="hr, finance, management or other.")
    name: str = Field(description="Name of the contact person.")
    email: str = Field(description="Business e-mail address.")
    phone: str | None = Field(description="Business phone number, if known.")


class ElectronicAddressRead(BaseModel):
    """Electronic address for e-invoices."""

    scheme: str = Field(description="EAS scheme code, e.g. 0106 (KvK).")
    identifier: str = Field(description="Identifier within the scheme.")


class ClientOrganisationRead(BaseModel):
    """A client organisation (tenant)."""

    id: uuid.UUID = Field(description="Tenant id.")
    name: str = Field(description="Legal name.")
    kvk_number: str | None = Field(description="Chamber of Commerce number.")
    vat_id: str | None = Field(description="VAT id with country prefix.")
    account_manager_id: str | None = Field(description="Subject id of the account manager.")
    k_anonymity: int = Field(description="Small-cell threshold.")
    payment_terms_days: int = Field(description="Payment term of invoices in days.")
    invoice_email: str | None = Field(description="Mailbox that receives the invoices.")
    electronic_address: ElectronicAddressRead | None = Field(description="Peppol endpoint for e-invoices, if set.")
    addresses: AddressesRead = Field(description="Visiting, postal and invoice address.")
    contacts: list[ContactRead] | None = Field(
        description="Business contacts; null when withheld from the caller (integrations)."
    )
    org_units: list[OrgUnitRead] = Field(description="Departments and locations (flat; see the org-units route).")

    @classmethod
    def of(cls, organisation: Organisation) -> ClientOrganisationRead:
        def address(kind: AddressKind) -> AddressRead | None:
            found = organisation.addresses.get(kind)
            if found is None:
                return None
            return AddressRead(
                street=found.street,
                house_number=found.house_number,
                postal_code=found.postal_code,
                city=found.city,
                country=found.country,
            )

        electronic = organisation.electronic_address
        return cls(
            id=organisation.id,
            name=organisation.name,
            kvk_number=organisation.kvk_number,
            vat_id=organisation.vat_id,
            account_manager_id=organisation.account_manager_id,
            k_anonymity=organisation.k_anonymity,
            payment_terms_days=organisation.payment_terms_days,
            invoice_email=organisation.invoice_email,
            electronic_address=(
                ElectronicAddressRead(scheme=electronic.scheme, identifier=electronic.identifier)
                if electronic
                else None
            ),
            addresses=AddressesRead(visiting=address("visiting"), postal=address("postal"), invoice=address("invoice")),
            contacts=(
                None
                if organisation.contacts is None
                else [
                    ContactRead(role=c.role, name=c.name, email=c.email, phone=c.phone) for c in organisation.contacts
                ]
            ),
            org_units=[OrgUnitRead.of(unit) for unit in organisation.org_units],
        )


# -- routes -----------------------------------------------------------------------------------------


@router.post(
    "/client-organisations",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientOrganisationRead,
    responses=error_responses(401, 403, 409, 422, 503),
)
async def create_client_organisation(
    body: ClientOrganisationCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """Onboard a client organisation (provider admins); the other services learn of it by event
    (billing.client.registered.v1, without contacts or addresses)."""
    organisation = await register_client_organisation(
        RegisterClientOrganisation(
            name=body.name,
            kvk_number=body.kvk_number,
            account_manager_id=body.account_manager_id,
            k_anonymity=body.k_anonymity,
            org_units=[unit.to_unit() for unit in body.org_units],
            vat_id=body.vat_id,
            addresses=body.addresses.present(),
            contacts=[contact.to_contact() for contact in body.contacts],
            payment_terms_days=body.payment_terms_days,
            invoice_email=None if body.invoice_email is None else str(body.invoice_email),
            electronic_address=body.electronic_address.to_address() if body.electronic_address else None,
        ),
        principal=principal,
        uow=uow,
    )
    return ClientOrganisationRead.of(organisation)


@router.get(
    "/client-organisations",
    response_model=list[ClientOrganisationRead],
    responses=error_responses(401, 403),
)
async def read_client_organisations(principal: CurrentPrincipal, uow: UowFactoryDep) -> list[ClientOrganisationRead]:
    """The client organisations the caller may see: all (provider admins), the portfolio (account managers),
    or their own (client contacts, integrations)."""
    return [ClientOrganisationRead.of(o) for o in await list_organisations(principal=principal, uow=uow)]


@router.get(
    "/client-organisations/{tenant_id}",
    response_model=ClientOrganisationRead,
    responses=error_responses(401, 403, 404),
)
async def read_client_organisation(
    tenant_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """One client organisation, if the caller may see it (account managers: their portfolio)."""
    return ClientOrganisationRead.of(await get_organisation(tenant_id, principal=principal, uow=uow))


@router.patch(
    "/client-organisations/{tenant_id}",
    response_model=ClientOrganisationRead,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def update_client_organisation(
    tenant_id: uuid.UUID, body: ClientOrganisationChange, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """Change any part of a profile (provider admins); publishes the full new profile
    (billing.client.updated.v1). The small-cell threshold only goes up."""
    organisation = await change_client_organisation(tenant_id, body.to_command(), principal=principal, uow=uow)
    return ClientOrganisationRead.of(organisation)


@router.post(
    "/client-organisations/{tenant_id}/org-units",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientOrganisationRead,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def create_org_unit(
    tenant_id: uuid.UUID, body: OrgUnitCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """Add a department or location (provider admins, the organisation's client contacts, and its
    integrations with the scope org_units:write)."""
    return ClientOrganisationRead.of(await add_org_unit(tenant_id, body.to_unit(), principal=principal, uow=uow))


@router.get(
    "/client-organisations/{tenant_id}/org-units",
    response_model=list[OrgUnitTreeNode],
    responses=error_responses(401, 403, 404),
)
async def read_org_unit_tree(
    tenant_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep
) -> list[OrgUnitTreeNode]:
    """The complete org unit tree: the top-level units, each with the units below it."""
    return [OrgUnitTreeNode.of(node) for node in await get_org_unit_tree(tenant_id, principal=principal, uow=uow)]


@router.patch(
    "/client-organisations/{tenant_id}/org-units/{unit_id}",
    response_model=ClientOrganisationRead,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def update_org_unit(
    tenant_id: uuid.UUID, unit_id: uuid.UUID, body: OrgUnitChange, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """Rename a unit, change its kind or headcount (null clears it), or move it under another unit (null: to the
    top); a move under the unit itself or one of its descendants is refused."""
    given = body.model_fields_set
    nulls = [name for name in ("name", "kind") if name in given and getattr(body, name) is None]
    if nulls:
        raise InvalidInput(
            "these fields cannot be cleared",
            fields=[FieldError(path=f"body.{name}", message="must not be null") for name in nulls],
        )
    command = ChangeOrgUnit(
        name=body.name if body.name is not None else UNCHANGED,
        kind=body.kind if body.kind is not None else UNCHANGED,
        parent_id=body.parent_id if "parent_id" in given else UNCHANGED,
        employees=body.employees if "employees" in given else UNCHANGED,
    )
    return ClientOrganisationRead.of(await change_org_unit(tenant_id, unit_id, command, principal=principal, uow=uow))
