"""Gapless invoice numbers per year (``2026-000123``), even under concurrent billing runs.

The counter row of the year is incremented with ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` inside the
transaction that issues the invoice. The row stays locked until that transaction ends: a second issuer
waits, and if the first rolls back its increment is rolled back too, so no number is skipped or used twice.
Never a sequence: sequence values are not returned on rollback and would leave gaps.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.billing.adapters.invoice_tables import INVOICE_NUMBERS


async def next_invoice_number(session: AsyncSession, year: int) -> str:
    """Take the next number of ``year`` in the caller's transaction."""
    taken = await session.scalar(
        insert(INVOICE_NUMBERS)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[INVOICE_NUMBERS.c.year], set_={"last_number": INVOICE_NUMBERS.c.last_number + 1}
        )
        .returning(INVOICE_NUMBERS.c.last_number)
    )
    if taken is None or taken > 999_999:
        raise RuntimeError(f"invoice numbers of {year} are exhausted")
    return f"{year}-{taken:06d}"
