"""A social worker's caseload, an employee's own referrals, consent and erasure, resolved through intake."""
