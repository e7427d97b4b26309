"""The one clock: `utcnow()` for every timestamp the product writes.

Time is read through a replaceable `Clock` so a test (or a replay tool) can pin or advance it
with `use_clock(...)` instead of patching `datetime` in each module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, at MongoDB's millisecond precision, so a value reads back as it was written."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


_clock: Clock = system_clock


def utcnow() -> datetime:
    """Now (timezone-aware UTC, millisecond precision) from the current clock."""
    return _clock()


def set_clock(clock: Clock) -> Clock:
    """Replace the clock; returns the previous one so the caller can put it back."""
    global _clock
    previous, _clock = _clock, clock
    return previous


@contextmanager
def use_clock(clock: Clock) -> Iterator[None]:
    """Use `clock` inside the block, then restore the previous clock."""
    previous = set_clock(clock)
    try:
        yield
    finally:
        set_clock(previous)
