"""Referrals (aanmeldingen), resolved through the intake service."""
