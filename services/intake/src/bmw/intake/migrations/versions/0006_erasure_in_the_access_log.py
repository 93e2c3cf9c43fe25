"""erasure in the access log: besides person_ref, an erasure may pseudonymise the person's own login as actor and
clear a colleague's stated reason

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Still append-only: no delete, and an update only erases. person_ref and actor may only become their erased
#: form (an employee who referred themselves is the actor of their own rows: their login identifies them as
#: surely as the pseudonym); a break-glass reason, free text about the person, may only be cleared, and only
#: as the row's person is erased. Every other column stays as written.
ERASABLE = """
CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the access log is append-only';
    END IF;
    IF (to_jsonb(NEW) - 'person_ref' - 'actor' - 'reason') IS DISTINCT FROM (to_jsonb(OLD) - 'person_ref' - 'actor' - 'reason')
       OR (NEW.person_ref IS DISTINCT FROM OLD.person_ref AND coalesce(NEW.person_ref, '') NOT LIKE 'erased-%')
       OR (NEW.actor IS DISTINCT FROM OLD.actor AND NEW.actor NOT LIKE 'erased-%')
       OR (NEW.reason IS DISTINCT FROM OLD.reason
           AND (NEW.reason IS NOT NULL OR coalesce(NEW.person_ref, '') NOT LIKE 'erased-%')) THEN
        RAISE EXCEPTION 'the access log is append-only; only erasure may pseudonymise a row';
    END IF;
    RETURN NEW;
END;
$$
"""

#: The rule of 0002: only person_ref may change, and only to its erased form.
PERSON_REF_ONLY = """
CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the access log is append-only';
    END IF;
    IF (to_jsonb(NEW) - 'person_ref') IS DISTINCT FROM (to_jsonb(OLD) - 'person_ref')
       OR NEW.person_ref IS NULL OR NEW.person_ref NOT LIKE 'erased-%' THEN
        RAISE EXCEPTION 'the access log is append-only; only erasure may pseudonymise person_ref';
    END IF;
    RETURN NEW;
END;
$$
"""


def upgrade() -> None:
    op.execute(ERASABLE)


def downgrade() -> None:
    op.execute(PERSON_REF_ONLY)
