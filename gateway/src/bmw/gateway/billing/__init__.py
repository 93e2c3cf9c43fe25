"""Client organisations, contracts, usage and invoices, resolved through the billing service."""
