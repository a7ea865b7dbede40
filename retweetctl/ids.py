"""What counts as an X id: a positive integer that fits PostgreSQL's bigint."""

from __future__ import annotations

MAX_ID = 2**63 - 1
# int() refuses strings of more than 4300 digits (a ValueError, not an answer),
# so the length is checked first.
MAX_ID_DIGITS = len(str(MAX_ID))


def is_id_text(text: str) -> bool:
    """ASCII digits only: int() would also read Arabic-Indic or full-width digits."""
    return text.isascii() and text.isdigit()


def parse_id_text(text: str) -> int | None:
    """text as an id in 1..MAX_ID, or None if it is anything else."""
    significant = text.lstrip("0")
    if not is_id_text(text) or len(significant) > MAX_ID_DIGITS:
        return None
    number = int(significant or "0")
    return number if 0 < number <= MAX_ID else None
