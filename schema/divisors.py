"""Divisor lists for hints such as "choose a size that divides 2880 (1, 2, 3, ...)"."""

from __future__ import annotations

# Largest divisor a hint lists. It is far above any head count or mesh axis size,
# and small enough that listing stays fast for any value.
MAX_LISTED_DIVISOR = 65536


def divisors(value: int, max_count: int | None = 12) -> list[int]:
    """Return up to `max_count` (None: any number of) divisors of `value` that are at most MAX_LISTED_DIVISOR."""
    found = []
    for candidate in range(1, min(value, MAX_LISTED_DIVISOR) + 1):
        if value % candidate == 0:
            found.append(candidate)
            if len(found) == max_count:
                break
    return found


def format_divisors(value: int, max_count: int | None = 12) -> str:
    """Format the divisors of `value` as "1, 2, 4", ending with ", ..." when larger ones are left out."""
    listed = divisors(value, max_count)
    text = ", ".join(str(divisor) for divisor in listed)
    return text if listed and listed[-1] == value else text + ", ..."
