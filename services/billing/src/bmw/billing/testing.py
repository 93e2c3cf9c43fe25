"""Example parties for tests and examples of invoices: the provider as seller and a client as buyer."""

from __future__ import annotations

from bmw.billing.domain.invoices import Address, Party

EXAMPLE_SELLER = Party(
    name="BMW Bedrijfsmaatschappelijk Werk B.V.",
    address=Address(street="Catharijnesingel 30", postal_code="3511 GB", city="Utrecht"),
    email="facturen@bmw-example.nl",
    kvk_number="90000001",
    vat_id="NL004495445B01",
)
EXAMPLE_BUYER = Party(
    name="Acme Logistiek B.V.",
    address=Address(street="Havenweg 1", postal_code="3011 AA", city="Rotterdam"),
    email="crediteuren@acme.example",
    kvk_number="12345678",
    vat_id="NL123456789B01",
)
EXAMPLE_IBAN = "NL91ABNA0417164300"
