"""The right of access across the services: one query that asks intake, scheduling, billing and signals what each
holds about one person, and answers with a part per service."""
