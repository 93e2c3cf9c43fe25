"""Intake domain: referrals, cases and their rules. Pure Python, no infrastructure."""
